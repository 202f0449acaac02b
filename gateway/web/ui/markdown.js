// Model answers as sanitized HTML: Markdown by marked, cleaned by DOMPurify, code by highlight.js.
import DOMPurify from "./vendor/purify.js";
import hljs from "./vendor/highlight.js";
import { Marked } from "./vendor/marked.js";
import { h } from "./dom.js";

hljs.configure({ ignoreUnescapedHTML: true });

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const marked = new Marked({
  gfm: true,
  renderer: {
    // HTML in an answer is shown as the text it is, never parsed as markup (DOMPurify
    // below is the second line of defence, for what Markdown itself produces).
    html({ text }) {
      return escapeHtml(text);
    },
    // Images are links: the console's CSP loads none from elsewhere, and answers
    // should not make the browser fetch anything by themselves.
    image({ href, text }) {
      return `<a href="${escapeHtml(href)}">${escapeHtml(text || href)}</a>`;
    },
  },
});

const PURIFY = {
  FORBID_TAGS: ["img", "style", "form", "input", "button", "textarea", "select", "svg", "math"],
  FORBID_ATTR: ["style"],
  RETURN_DOM_FRAGMENT: true,
};

// Classes would let an answer borrow the console's own styles: only a code block's
// language and highlight.js's token classes stay.
DOMPurify.addHook("uponSanitizeAttribute", (node, data) => {
  if (data.attrName === "class") {
    data.keepAttr =
      (node.tagName === "CODE" && /^language-[\w+#-]+$/.test(data.attrValue)) ||
      (node.tagName === "SPAN" && /^hljs-[\w-]+(?: [\w-]+_*)*$/.test(data.attrValue));
  }
});

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

/** `text` (Markdown from a model) as a sanitized fragment with highlighted code blocks. */
export function renderMarkdown(text) {
  const fragment = DOMPurify.sanitize(marked.parse(text, { async: false }), PURIFY);
  for (const code of fragment.querySelectorAll("pre > code")) decorateCode(code);
  for (const table of fragment.querySelectorAll("table")) {
    const wrap = h("div", { class: "table-wrap", tabindex: 0 });
    table.replaceWith(wrap);
    wrap.append(table);
  }
  return fragment;
}

function decorateCode(code) {
  const source = code.textContent;
  const language = /^language-([\w+#-]+)$/.exec(code.className)?.[1];
  const result =
    language && hljs.getLanguage(language)
      ? hljs.highlight(source, { language, ignoreIllegals: true })
      : hljs.highlightAuto(source);
  // highlight.js escapes what it outputs; DOMPurify checks it once more all the same.
  code.replaceChildren(DOMPurify.sanitize(result.value, { RETURN_DOM_FRAGMENT: true }));
  code.classList.add("hljs");
  const pre = code.parentElement;
  const status = h("span", { class: "copy-status", "aria-live": "polite" });
  const copy = h("button", { type: "button", class: "secondary copy-code" }, "Copy code");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(source);
      status.textContent = "Copied.";
    } catch {
      status.textContent = "Copy failed.";
    }
  });
  const label = h("span", { class: "code-lang" }, language ?? result.language ?? "text");
  const block = h("div", { class: "code-block" }, h("div", { class: "code-head" }, label, copy, status));
  // A long line scrolls sideways: the block must be reachable by keyboard to scroll it.
  pre.tabIndex = 0;
  pre.replaceWith(block);
  block.append(pre);
}
