{% load static %}/* Taper Planner's service worker (served from /me/, so its scope is the portal).
   It shows the reminders the server pushes (reminders/push.py builds the payload):
   the reminder's title and short text, and the e-mail's answers as buttons. A tap on
   a button opens that answer's confirmation page (the e-mail's signed link, which
   records nothing until the patient confirms); a tap on the notification opens Today.
   When the browser rotates the subscription (pushsubscriptionchange), the worker
   subscribes again with the server's VAPID key and sends the new subscription with the
   old endpoint, which the server replaces (portal.views.push_subscribe). */
"use strict";

const ICON = "{% static 'portal/icon-192.png' %}";
const HOME = "{% url 'patient_today' %}";
const SUBSCRIBE = "{% url 'patient_push_subscribe' %}";
const VAPID_KEY = "{{ vapid_public_key }}"; // base64url: nothing to escape
// The endpoint the server knows, kept for a rotation whose event does not carry the
// old subscription (its endpoint is the credential the server asks for).
const MEMORY = "taper-push";

async function remembered() {
  const response = await (await caches.open(MEMORY)).match("endpoint");
  return response ? response.text() : "";
}

async function remember(endpoint) {
  await (await caches.open(MEMORY)).put("endpoint", new Response(endpoint));
}

async function rememberCurrent() {
  const subscription = await self.registration.pushManager.getSubscription();
  if (subscription) {
    await remember(subscription.endpoint);
  }
}

function keyBytes(base64url) {
  const padded = (base64url + "===".slice((base64url.length + 3) % 4))
    .replace(/-/g, "+")
    .replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (character) => character.charCodeAt(0));
}

async function resubscribe(oldSubscription, newSubscription) {
  const oldEndpoint = (oldSubscription && oldSubscription.endpoint) || (await remembered());
  if (!oldEndpoint || !VAPID_KEY) {
    return; // nothing the server knows of to replace, or push is off on the server
  }
  const subscription =
    newSubscription ||
    (await self.registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(VAPID_KEY),
    }));
  const response = await fetch(SUBSCRIBE, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ old_endpoint: oldEndpoint, subscription: subscription.toJSON() }),
  });
  if (response.ok) {
    await remember(subscription.endpoint);
  }
}

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) =>
  event.waitUntil(Promise.all([self.clients.claim(), rememberCurrent()])),
);

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "subscribed") {
    event.waitUntil(rememberCurrent());
  }
});

self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil(resubscribe(event.oldSubscription, event.newSubscription));
});

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = {};
  }
  const actions = Array.isArray(data.actions) ? data.actions : [];
  const links = {};
  for (const action of actions) {
    links[action.action] = action.url;
  }
  const options = {
    body: data.body || "",
    icon: ICON,
    tag: data.tag || undefined,
    data: { url: data.url || HOME, links: links },
    actions: actions.map((action) => ({ action: action.action, title: action.title })),
  };
  event.waitUntil(
    Promise.all([
      self.registration.showNotification(data.title || "Taper Planner", options),
      rememberCurrent(),
    ]),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  const chosen = event.action && data.links ? data.links[event.action] : "";
  const target = new URL(chosen || data.url || HOME, self.location.origin);
  if (target.origin !== self.location.origin) {
    return; // only this site's own pages
  }
  event.waitUntil(self.clients.openWindow(target.href));
});
