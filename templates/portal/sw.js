{% load static %}/* Taper Planner's service worker (served from /me/, so its scope is the portal).
   It shows the reminders the server pushes (reminders/push.py builds the payload):
   the reminder's title and short text, and the e-mail's answers as buttons. A tap on
   a button opens that answer's confirmation page (the e-mail's signed link, which
   records nothing until the patient confirms); a tap on the notification opens Today. */
"use strict";

const ICON = "{% static 'portal/icon-192.png' %}";
const HOME = "{% url 'patient_today' %}";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

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
  event.waitUntil(self.registration.showNotification(data.title || "Taper Planner", options));
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
