// Chat: conversations kept in this browser, answers streamed and rendered as Markdown,
// stop (button or Escape), regenerate, edit and resend, parameters per conversation.
import { busy, confirmAction, errorBox, field, h, promptText, showError } from "../dom.js";
import { renderMarkdown } from "../markdown.js";
import { deleteConversation, listConversations, saveConversation } from "../store.js";

/** Sent without asking when the model's context size is unknown (about 128 KB of text). */
const DEFAULT_HISTORY_TOKENS = 32000;
const UNTITLED = "New conversation";
/** The transcript follows the stream while its bottom is this close (px) to the view. */
const FOLLOW_SLACK_PX = 48;

function newId() {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

function newConversation(model = "") {
  const now = Date.now();
  return {
    id: newId(),
    title: UNTITLED,
    created_at: now,
    updated_at: now,
    model,
    system: "",
    temperature: null,
    max_tokens: null,
    messages: [],
  };
}

/** A rough token count (4 characters a token, a few per message): enough to warn early. */
export function estimateTokens(messages) {
  return messages.reduce((sum, m) => sum + Math.ceil(m.content.length / 4) + 4, 0);
}

/** The error of a failed answer as stored with the conversation (no secrets in it). */
function storedError(error) {
  return {
    name: error?.name === "GatewayError" ? "GatewayError" : "Error",
    message: error?.message ?? String(error),
    status: error?.status ?? null,
    type: error?.type ?? null,
    code: error?.code ?? null,
    param: error?.param ?? null,
    requestId: error?.requestId ?? null,
  };
}

function describeUsage(usage) {
  return `${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion = ${usage.total_tokens} tokens`;
}

export class ChatView {
  constructor(client, root) {
    this.client = client;
    this.root = root;
    this.conversation = newConversation();
    this.modelInfo = new Map();
    this.controller = null;
    this.editing = null;
    this.follow = true;
    this.painting = new Map();

    this.error = errorBox();
    this.list = h("ul", { class: "conversation-list", "aria-label": "Saved conversations" });
    this.newButton = h("button", { type: "button", class: "secondary" }, "New conversation");
    this.model = field("Model", { tag: "select", name: "model", required: true });
    this.reloadModels = h("button", { type: "button", class: "secondary" }, "Reload models");
    this.system = field("System prompt", { tag: "textarea", name: "system", rows: 2 });
    this.temperature = field(
      "Temperature",
      { name: "temperature", type: "number", min: 0, max: 2, step: 0.1, placeholder: "default" },
      "Empty: the model's default.",
    );
    this.maxTokens = field(
      "Max tokens",
      { name: "max_tokens", type: "number", min: 1, step: 1, placeholder: "default" },
      "Longest answer, in tokens.",
    );
    this.transcript = h("ol", { class: "transcript", "aria-label": "Conversation" });
    this.scroller = h(
      "div",
      { class: "transcript-scroll", tabindex: 0, role: "region", "aria-label": "Transcript" },
      this.transcript,
    );
    this.prompt = field(
      "Message",
      { tag: "textarea", name: "prompt", rows: 3, required: true },
      "Ctrl+Enter sends, Escape stops the answer.",
    );
    this.editNote = h("p", { class: "hint edit-note", hidden: true });
    this.cancelEdit = h("button", { type: "button", class: "link" }, "Cancel edit");
    this.send = h("button", { type: "submit" }, "Send");
    this.stop = h("button", { type: "button", class: "danger", disabled: true }, "Stop");
    this.regenerate = h("button", { type: "button", class: "secondary", disabled: true }, "Regenerate");
    this.meta = h("p", { class: "meta", "aria-live": "polite" });
    this.form = h(
      "form",
      { class: "form chat", "aria-labelledby": "chat-title" },
      h("div", { class: "row model-row" }, this.model.row, this.reloadModels),
      h(
        "details",
        { class: "params" },
        h("summary", {}, "Parameters of this conversation"),
        this.system.row,
        h("div", { class: "grid3" }, this.temperature.row, this.maxTokens.row),
      ),
      this.scroller,
      h("div", { class: "row edit-row" }, this.editNote, this.cancelEdit),
      this.prompt.row,
      h("div", { class: "row" }, this.send, this.stop, this.regenerate),
      this.meta,
      this.error,
    );
    this.cancelEdit.hidden = true;
    root.append(
      h("h2", { id: "chat-title" }, "Chat"),
      h(
        "div",
        { class: "chat-layout" },
        h(
          "nav",
          { class: "conversations", "aria-labelledby": "conversations-title" },
          h("h3", { id: "conversations-title" }, "Conversations"),
          this.newButton,
          this.list,
        ),
        this.form,
      ),
    );

    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.ask();
    });
    this.prompt.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.controller && !this.root.hidden) {
        event.preventDefault();
        this.controller.abort();
      }
    });
    this.scroller.addEventListener("scroll", () => {
      const { scrollTop, clientHeight, scrollHeight } = this.scroller;
      this.follow = scrollTop + clientHeight >= scrollHeight - FOLLOW_SLACK_PX;
    });
    this.stop.addEventListener("click", () => this.controller?.abort());
    this.regenerate.addEventListener("click", () => this.regenerateLast());
    this.newButton.addEventListener("click", () => this.switchTo(newConversation(this.model.input.value)));
    this.reloadModels.addEventListener("click", () => this.loadModels());
    this.cancelEdit.addEventListener("click", () => this.setEditing(null));
    this.model.input.addEventListener("change", () => this.changed({ model: this.model.input.value }));
    this.system.input.addEventListener("change", () => this.changed({ system: this.system.input.value }));
    this.temperature.input.addEventListener("change", () =>
      this.changed({ temperature: this.numberOrNull(this.temperature.input.value) }),
    );
    this.maxTokens.input.addEventListener("change", () =>
      this.changed({ max_tokens: this.numberOrNull(this.maxTokens.input.value) }),
    );
  }

  async open() {
    await this.loadModels();
    if (!this.conversation.messages.length) {
      const saved = await this.savedConversations();
      if (saved.length) this.switchTo(saved[0], false);
    }
    this.renderList();
    // A stream still running keeps painting its own transcript.
    if (!this.controller) this.renderTranscript();
  }

  reset() {
    this.controller?.abort();
    this.conversation = newConversation();
    this.setEditing(null);
    this.transcript.replaceChildren();
    this.list.replaceChildren();
    this.meta.textContent = "";
    showError(this.error, null);
  }

  numberOrNull(text) {
    return text === "" ? null : Number(text);
  }

  async savedConversations() {
    try {
      return await listConversations();
    } catch (error) {
      showError(this.error, error);
      return [];
    }
  }

  /** Apply a settings change to the conversation; kept once it has messages. */
  changed(fields) {
    Object.assign(this.conversation, fields);
    if (this.conversation.messages.length) this.persist();
  }

  async persist(conversation = this.conversation) {
    conversation.updated_at = Date.now();
    try {
      await saveConversation(conversation);
    } catch (error) {
      showError(this.error, error);
    }
    await this.renderList();
  }

  async renderList() {
    const saved = await this.savedConversations();
    this.list.replaceChildren(
      ...saved.map((conversation) => this.listItem(conversation)),
    );
    if (!saved.length) this.list.append(h("li", { class: "empty" }, "None kept yet."));
  }

  listItem(conversation) {
    const current = conversation.id === this.conversation.id;
    const openButton = h(
      "button",
      { type: "button", class: "link open", "aria-current": current ? "true" : null },
      conversation.title,
    );
    openButton.addEventListener("click", () => this.switchTo(conversation));
    const rename = h(
      "button",
      { type: "button", class: "link", "aria-label": `Rename ${conversation.title}` },
      "Rename",
    );
    rename.addEventListener("click", async () => {
      const title = await promptText("Conversation name", conversation.title);
      if (!title) return;
      conversation.title = title;
      if (current) this.conversation.title = title;
      await saveConversation(current ? this.conversation : conversation);
      await this.renderList();
    });
    const remove = h(
      "button",
      { type: "button", class: "link danger-link", "aria-label": `Delete ${conversation.title}` },
      "Delete",
    );
    remove.addEventListener("click", async () => {
      if (!(await confirmAction(`Delete the conversation "${conversation.title}"?`, "Delete"))) return;
      await deleteConversation(conversation.id);
      if (current) {
        const rest = await this.savedConversations();
        this.switchTo(rest[0] ?? newConversation(this.model.input.value), false);
      }
      await this.renderList();
    });
    return h(
      "li",
      { "data-conversation-id": conversation.id, class: current ? "current" : null },
      openButton,
      h("span", { class: "row list-actions" }, rename, remove),
    );
  }

  switchTo(conversation, relist = true) {
    this.controller?.abort();
    this.conversation = structuredClone(conversation);
    this.setEditing(null);
    this.system.input.value = conversation.system ?? "";
    this.temperature.input.value = conversation.temperature ?? "";
    this.maxTokens.input.value = conversation.max_tokens ?? "";
    if (conversation.model && this.modelInfo.has(conversation.model)) {
      this.model.input.value = conversation.model;
    }
    this.meta.textContent = "";
    showError(this.error, null);
    this.renderTranscript();
    if (relist) this.renderList();
  }

  async loadModels() {
    const chosen = this.model.input.value || this.conversation.model;
    await busy(this.reloadModels, this.error, async () => {
      const page = await this.client.listModels();
      this.modelInfo = new Map(page.data.map((m) => [m.id, m]));
      const ids = [...this.modelInfo.keys()].sort();
      this.model.input.replaceChildren(
        h("option", { value: "" }, ids.length ? "Choose a model…" : "No models available"),
        ...ids.map((id) => h("option", { value: id }, id)),
      );
      if (ids.includes(chosen)) this.model.input.value = chosen;
      else if (ids.length === 1) this.model.input.value = ids[0];
    });
  }

  // -- the transcript ---------------------------------------------------------------

  renderTranscript() {
    this.painting.clear();
    this.transcript.replaceChildren(
      ...this.conversation.messages.map((message, index) => this.item(message, index)),
    );
    this.updateButtons();
    this.follow = true;
    this.scrollToEnd();
  }

  item(message, index) {
    const body = h("div", { class: "text" });
    const reasoning = h(
      "details",
      { class: "reasoning", hidden: !message.reasoning },
      h("summary", {}, "Reasoning"),
      h("div", { class: "reasoning-text" }),
    );
    const meta = h("p", { class: "answer-meta" });
    const error = errorBox();
    const item = h(
      "li",
      {
        class: `message ${message.role}`,
        "data-role": message.role,
        "data-state": message.error ? "error" : message.stopped ? "stopped" : "done",
      },
      h("span", { class: "role" }, message.role),
      message.role === "assistant" ? reasoning : null,
      body,
      meta,
      error,
    );
    const view = { item, body, reasoning, meta, error };
    if (message.role === "user") {
      const edit = h("button", { type: "button", class: "link" }, "Edit");
      edit.addEventListener("click", () => this.setEditing(index));
      item.append(h("div", { class: "row message-actions" }, edit));
    }
    this.paint(view, message);
    return item;
  }

  /** Bring one message's view up to date with the message (also while it streams). */
  paint(view, message) {
    if (message.role === "assistant") {
      view.body.replaceChildren(renderMarkdown(message.content));
      view.reasoning.hidden = !message.reasoning;
      view.reasoning.lastElementChild.textContent = message.reasoning ?? "";
    } else {
      view.body.textContent = message.content;
    }
    const facts = [];
    if (message.provider) facts.push(`Served by ${message.provider}`);
    if (message.usage) facts.push(describeUsage(message.usage));
    if (message.stopped) facts.push("stopped");
    if (message.trimmed) facts.push(message.trimmed);
    view.meta.textContent = facts.join(" · ");
    view.meta.hidden = !facts.length;
    showError(view.error, message.error ?? null);
    this.scrollToEnd();
  }

  /** Paint at most once per frame while chunks arrive. */
  schedule(view, message) {
    if (this.painting.has(view)) return;
    this.painting.set(
      view,
      requestAnimationFrame(() => {
        this.painting.delete(view);
        this.paint(view, message);
      }),
    );
  }

  scrollToEnd() {
    if (this.follow) this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  setEditing(index) {
    this.editing = index;
    const editing = index !== null;
    this.editNote.hidden = !editing;
    this.cancelEdit.hidden = !editing;
    for (const item of this.transcript.children) item.classList.remove("editing");
    if (editing) {
      this.editNote.textContent = "Editing a message: sending replaces it and everything after it.";
      this.transcript.children[index]?.classList.add("editing");
      this.prompt.input.value = this.conversation.messages[index].content;
      this.prompt.input.focus();
    }
  }

  updateButtons() {
    const streaming = Boolean(this.controller);
    const last = this.conversation.messages.at(-1);
    this.send.disabled = streaming;
    this.stop.disabled = !streaming;
    this.regenerate.disabled = streaming || !last || last.role !== "assistant";
  }

  // -- sending ----------------------------------------------------------------------

  /** What is sent for the conversation's messages: no failed answers, the system prompt first. */
  history(messages) {
    const sent = messages
      .filter((m) => !m.error && m.content && (m.role === "user" || m.role === "assistant"))
      .map((m) => ({ role: m.role, content: m.content }));
    const system = (this.conversation.system ?? "").trim();
    return system ? [{ role: "system", content: system }, ...sent] : sent;
  }

  /** The history to send, trimmed to the model's context when the user agrees; null: don't send. */
  async fitContext(history, model) {
    const info = this.modelInfo.get(model) ?? {};
    const context = info.context_window ?? info.context_length ?? null;
    const reserve = this.conversation.max_tokens ?? 0;
    const limit = context ? Math.max(context - reserve, 1) : DEFAULT_HISTORY_TOKENS;
    const size = estimateTokens(history);
    if (size <= limit) return { history, note: null };
    const why = context
      ? `more than ${model}'s context of ${context.toLocaleString()} tokens`
      : `more than the ${limit.toLocaleString()} tokens the console sends without asking`;
    const sure = await confirmAction(
      `This conversation is about ${size.toLocaleString()} tokens, ${why}. ` +
        "Send only the latest messages that fit?",
      "Send the latest",
    );
    if (!sure) return null;
    const system = history[0]?.role === "system" ? [history[0]] : [];
    const rest = history.slice(system.length);
    let budget = limit - estimateTokens(system);
    let start = rest.length;
    while (start > 1 && budget - estimateTokens([rest[start - 1]]) >= 0) {
      budget -= estimateTokens([rest[start - 1]]);
      start -= 1;
    }
    start = Math.min(start, rest.length - 1);
    const kept = rest.slice(start);
    return {
      history: [...system, ...kept],
      note: `sent the latest ${kept.length} of ${rest.length} messages`,
    };
  }

  async ask() {
    const text = this.prompt.input.value.trim();
    const model = this.model.input.value;
    if (!text || !model || this.controller) return;
    const kept =
      this.editing === null
        ? this.conversation.messages
        : this.conversation.messages.slice(0, this.editing);
    const user = { role: "user", content: text };
    const fit = await this.fitContext(this.history([...kept, user]), model);
    if (!fit) return;
    this.conversation.messages = [...kept, user];
    if (this.editing !== null) {
      this.setEditing(null);
      this.renderTranscript();
    } else {
      this.transcript.append(this.item(user, this.conversation.messages.length - 1));
    }
    if (this.conversation.title === UNTITLED) this.conversation.title = text.slice(0, 60);
    this.prompt.input.value = "";
    await this.stream(model, fit);
  }

  async regenerateLast() {
    const model = this.model.input.value;
    const messages = this.conversation.messages;
    if (this.controller || !model || messages.at(-1)?.role !== "assistant") return;
    const fit = await this.fitContext(this.history(messages.slice(0, -1)), model);
    if (!fit) return;
    messages.pop();
    this.transcript.lastElementChild?.remove();
    await this.stream(model, fit);
  }

  async stream(model, { history, note }) {
    const conversation = this.conversation;
    conversation.model = model;
    const message = { role: "assistant", content: "", reasoning: "", model, provider: null, usage: null };
    if (note) message.trimmed = note;
    conversation.messages.push(message);
    const item = this.item(message, conversation.messages.length - 1);
    const view = {
      item,
      body: item.querySelector(".text"),
      reasoning: item.querySelector(".reasoning"),
      meta: item.querySelector(".answer-meta"),
      error: item.querySelector(".error"),
    };
    item.dataset.state = "waiting";
    this.transcript.append(item);
    this.follow = true;
    this.scrollToEnd();
    this.controller = new AbortController();
    this.updateButtons();
    this.meta.textContent = "Waiting for the first token…";
    showError(this.error, null);
    await this.persist();

    const body = { model, messages: history, stream_options: { include_usage: true } };
    if (conversation.temperature !== null) body.temperature = conversation.temperature;
    if (conversation.max_tokens !== null) body.max_tokens = conversation.max_tokens;
    try {
      const stream = await this.client.streamChat(body, { signal: this.controller.signal });
      message.provider = stream.provider;
      this.meta.textContent = `Streaming from ${stream.provider ?? "an unnamed provider"}…`;
      item.dataset.state = "streaming";
      for await (const chunk of stream) {
        if (chunk.usage) message.usage = chunk.usage;
        for (const choice of chunk.choices ?? []) {
          if (choice.index !== 0 || !choice.delta) continue;
          if (choice.delta.reasoning_content) message.reasoning += choice.delta.reasoning_content;
          if (choice.delta.content) message.content += choice.delta.content;
        }
        this.schedule(view, message);
      }
      item.dataset.state = "done";
    } catch (error) {
      if (error?.name === "AbortError") {
        message.stopped = true;
        item.dataset.state = "stopped";
      } else {
        message.error = storedError(error);
        item.dataset.state = "error";
      }
    } finally {
      cancelAnimationFrame(this.painting.get(view));
      this.painting.delete(view);
      this.paint(view, message);
      this.controller = null;
      this.updateButtons();
      this.meta.textContent = [
        message.provider ? `Served by ${message.provider}` : null,
        message.usage ? `usage: ${describeUsage(message.usage)}` : null,
      ]
        .filter(Boolean)
        .join(" · ");
      if (conversation === this.conversation) this.prompt.input.focus();
      await this.persist(conversation);
    }
  }
}
