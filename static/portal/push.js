/* Settings → "Notifications on this device": registers the portal's service worker,
   asks the browser for permission and a push subscription, and sends it to the server.
   The words come from the page (data-* attributes), so they are translated. */
"use strict";

(function () {
  const section = document.getElementById("push-settings");
  if (!section) {
    return;
  }
  const button = section.querySelector("[data-push-enable]");
  const status = section.querySelector("[data-push-status]");
  const nameInput = section.querySelector("[name=device_name]");
  const csrf = section.querySelector("[name=csrfmiddlewaretoken]").value;
  const say = (text) => {
    status.textContent = text;
  };
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    say(section.dataset.unsupported);
    button.disabled = true;
    return;
  }
  navigator.serviceWorker.register(section.dataset.worker, { scope: section.dataset.scope });

  function keyBytes(base64url) {
    const padded = (base64url + "===".slice((base64url.length + 3) % 4))
      .replace(/-/g, "+")
      .replace(/_/g, "/");
    return Uint8Array.from(atob(padded), (character) => character.charCodeAt(0));
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const permission = await Notification.requestPermission();
      if (permission !== "granted") {
        say(section.dataset.denied);
        return;
      }
      const registration = await navigator.serviceWorker.ready;
      const subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: keyBytes(section.dataset.key),
      });
      const response = await fetch(section.dataset.endpoint, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ subscription: subscription.toJSON(), device_name: nameInput.value }),
      });
      if (!response.ok) {
        throw new Error("the server refused the subscription");
      }
      // The worker keeps the endpoint the server now knows, for a later rotation.
      if (registration.active) {
        registration.active.postMessage({ type: "subscribed" });
      }
      say(section.dataset.done);
      window.location.reload();
    } catch (error) {
      say(section.dataset.failed);
    } finally {
      button.disabled = false;
    }
  });
})();
