// Small DOM helpers shared by the console's views. Text always goes in as text, never HTML.

/**
 * Create an element: h("button", {type: "button", onclick: fn}, "Save").
 * Keys starting with "on" become listeners; `false`/`null` attributes are left out.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      el.className = value;
    } else if (name === "value") {
      el.value = value;
    } else if (name === "checked") {
      el.defaultChecked = el.checked = Boolean(value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

let nextId = 0;

/** A labelled form field; returns {row, input}. */
export function field(label, attrs = {}, hint = null) {
  const id = attrs.id ?? `f${++nextId}`;
  const tag = attrs.tag ?? "input";
  const { tag: _tag, options, ...rest } = attrs;
  const input = h(tag, { ...rest, id });
  for (const option of options ?? []) {
    input.append(h("option", { value: option.value }, option.label));
  }
  const hintEl = hint ? h("small", { id: `${id}-hint`, class: "hint" }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  const row = h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl);
  return { row, input };
}

/** A checkbox with its label wrapped around it. */
export function checkbox(label, attrs = {}) {
  const input = h("input", { type: "checkbox", id: `f${++nextId}`, ...attrs });
  return { row: h("label", { class: "check" }, input, ` ${label}`), input };
}

/** An empty, hidden alert box where API errors of one part of the page are shown. */
export function errorBox() {
  return h("div", { class: "error", role: "alert", hidden: true });
}

/** Show an error (a GatewayError or anything thrown) in place, with its request id. */
export function showError(box, error) {
  box.replaceChildren();
  if (!error) {
    box.hidden = true;
    return;
  }
  // Errors kept with a conversation are plain objects with the same fields.
  const message = typeof error === "object" && "message" in error ? error.message : String(error);
  box.append(h("span", { class: "error-text" }, message));
  if (error && error.name === "GatewayError") {
    const details = [error.status ? `HTTP ${error.status}` : null, error.code || error.type]
      .filter(Boolean)
      .join(" · ");
    if (details) box.append(h("span", { class: "details" }, ` (${details})`));
    if (error.param) box.append(h("span", { class: "param" }, ` field: ${error.param}`));
    if (error.requestId) {
      box.append(h("span", { class: "request-id" }, ` request id: ${error.requestId}`));
    }
  }
  box.hidden = false;
}

/** Run an async action with `button` disabled; errors land in `box`. */
export async function busy(button, box, action) {
  if (button) button.disabled = true;
  if (box) showError(box, null);
  try {
    return await action();
  } catch (error) {
    if (box) showError(box, error);
    else throw error;
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** Ask for confirmation in the page's <dialog>; resolves true on "Confirm". */
export function confirmAction(text, confirmLabel = "Confirm") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = confirmLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

/** Ask for a line of text in the page's prompt <dialog>; resolves the trimmed text, or null. */
export function promptText(label, value = "") {
  const dialog = document.getElementById("prompt");
  const input = document.getElementById("prompt-input");
  document.getElementById("prompt-label").textContent = label;
  input.value = value;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => resolve(dialog.returnValue === "ok" && input.value.trim() ? input.value.trim() : null),
      { once: true },
    );
    dialog.showModal();
    input.select();
  });
}

/** A date (ISO string or epoch seconds) as local text, or an em dash. */
export function when(value) {
  if (value === null || value === undefined || value === "") return "—";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

/** "a, b , c" -> ["a", "b", "c"]. */
export function splitList(text) {
  return text
    .split(/[,\n]/)
    .map((part) => part.trim())
    .filter(Boolean);
}

/**
 * Errors next to their fields: `show(error)` marks the field the API's `param` names
 * (its first part: "headers.X-Y" is the headers field) and says whether one matched.
 */
export function fieldErrors(inputs) {
  const shown = [];
  const clear = () => {
    for (const { input, note } of shown.splice(0)) {
      note.remove();
      input.removeAttribute("aria-invalid");
      const rest = (input.getAttribute("aria-describedby") ?? "")
        .split(" ")
        .filter((id) => id && id !== note.id);
      if (rest.length) input.setAttribute("aria-describedby", rest.join(" "));
      else input.removeAttribute("aria-describedby");
    }
  };
  const show = (error) => {
    clear();
    const param = typeof error?.param === "string" ? error.param.split(/[.[]/)[0] : null;
    const input = param ? inputs[param] : null;
    if (!input) return false;
    const note = h("small", { class: "field-error", id: `${input.id}-error` }, error.message);
    input.closest(".field, .check")?.append(note);
    input.setAttribute("aria-invalid", "true");
    const described = input.getAttribute("aria-describedby");
    input.setAttribute("aria-describedby", described ? `${note.id} ${described}` : note.id);
    shown.push({ input, note });
    input.focus();
    return true;
  };
  return { show, clear };
}
