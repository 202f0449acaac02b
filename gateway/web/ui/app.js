// The console's entry point: sign-in, the status strip and switching between views.
import { GatewayClient } from "./api/client.js";
import { showError } from "./dom.js";
import { ChatView } from "./views/chat.js";
import { KeysView } from "./views/keys.js";
import { ProvidersView } from "./views/providers.js";
import { UsageView } from "./views/usage.js";

const SESSION_KEY = "gateway-console-admin-key";
const STATUS_EVERY_MS = 15000;

// Every request goes through here: when one cannot reach the gateway at all, the
// status strip says so at once instead of at its next refresh, and again once one can.
let unreachable = false;
const client = new GatewayClient({
  baseUrl: "",
  fetch: async (input, init) => {
    try {
      const response = await fetch(input, init);
      if (unreachable) refreshStatus();
      return response;
    } catch (error) {
      if (error?.name !== "AbortError") refreshStatus();
      throw error;
    }
  },
});
/** What views tell the shell: something changed that the status strip counts. */
const shell = { refreshStatus };
const views = {
  providers: new ProvidersView(client, document.getElementById("providers-view"), shell),
  chat: new ChatView(client, document.getElementById("chat-view")),
  keys: new KeysView(client, document.getElementById("keys-view")),
  usage: new UsageView(client, document.getElementById("usage-view")),
};

const signinView = document.getElementById("signin-view");
const appRoot = document.getElementById("app");
const signinForm = document.getElementById("signin-form");
const signinError = signinForm.querySelector(".error");
const keyInput = document.getElementById("signin-key");
const rememberInput = document.getElementById("signin-remember");
let current = null;

let checking = null;

/** Refresh the strip now; calls made while one refresh runs share it. */
function refreshStatus() {
  checking ??= checkStatus().finally(() => {
    checking = null;
  });
  return checking;
}

async function checkStatus() {
  const strip = document.getElementById("status");
  try {
    const health = await client.health();
    const parts = [`Gateway ${health.status}`];
    if (health.version) parts.push(`v${health.version}`);
    if (typeof health.uptime_s === "number") parts.push(`up ${formatUptime(health.uptime_s)}`);
    if (health.providers) {
      const { total, healthy, unhealthy } = health.providers;
      parts.push(`providers: ${total} total, ${healthy} healthy, ${unhealthy} unhealthy`);
    }
    strip.textContent = parts.join(" · ");
    strip.dataset.state = health.status === "ok" ? "ok" : "warn";
    unreachable = false;
  } catch (error) {
    strip.textContent = `Gateway unreachable: ${error.message}`;
    strip.dataset.state = "bad";
    unreachable = error?.status === 0;
  }
}

function formatUptime(seconds) {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

function show(name) {
  const target = views[name] ? name : "providers";
  for (const [key, view] of Object.entries(views)) view.root.hidden = key !== target;
  for (const link of document.querySelectorAll("nav.tabs a")) {
    if (link.dataset.view === target) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (current !== target) {
    current = target;
    views[target].open();
    refreshStatus();
  }
}

function enter() {
  signinView.hidden = true;
  appRoot.hidden = false;
  show(location.hash.slice(1));
}

function signOut() {
  client.setApiKey(null);
  sessionStorage.removeItem(SESSION_KEY);
  for (const view of Object.values(views)) view.reset();
  current = null;
  appRoot.hidden = true;
  signinView.hidden = false;
  keyInput.value = "";
  keyInput.focus();
}

signinForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = keyInput.value.trim();
  const button = signinForm.querySelector("button[type=submit]");
  button.disabled = true;
  showError(signinError, null);
  client.setApiKey(key);
  try {
    // An admin-only call: proves the key before the console opens.
    await client.listKeys();
    if (rememberInput.checked) sessionStorage.setItem(SESSION_KEY, key);
    keyInput.value = "";
    enter();
  } catch (error) {
    client.setApiKey(null);
    showError(signinError, error);
  } finally {
    button.disabled = false;
  }
});

document.getElementById("signout").addEventListener("click", signOut);
window.addEventListener("hashchange", () => {
  if (client.hasApiKey()) show(location.hash.slice(1));
});

const remembered = sessionStorage.getItem(SESSION_KEY);
if (remembered) {
  client.setApiKey(remembered);
  enter();
}
refreshStatus();
setInterval(refreshStatus, STATUS_EVERY_MS);
