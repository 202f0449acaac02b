// Usage: cost and tokens per day for a range, stacked by model, provider or key (Chart.js),
// the range's totals, and the request log (newest first, filtered, paged).
import { busy, errorBox, field, h, showError, when } from "../dom.js";

const DAY_MS = 86400000;
const LOG_PAGE = 50;
/** Distinct, readable on white, and not told apart by colour alone (the table has the numbers). */
const PALETTE = ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#116329", "#57606a"];
const GROUPS = [
  { value: "model", label: "model" },
  { value: "provider", label: "provider" },
  { value: "key", label: "key" },
];

let chartLibrary = null;

/** Chart.js is loaded on first use only (its UMD build sets globalThis.Chart). */
async function loadChart() {
  chartLibrary ??= import("../vendor/chart.js").then(() => globalThis.Chart);
  return chartLibrary;
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function daysBetween(first, last) {
  const days = [];
  for (let t = Date.parse(first); t <= Date.parse(last); t += DAY_MS) days.push(isoDay(new Date(t)));
  return days;
}

function usd(amount) {
  return amount == null ? "—" : `$${amount.toFixed(amount < 1 ? 4 : 2)}`;
}

function tokensOf(row) {
  return (row.prompt_tokens ?? 0) + (row.completion_tokens ?? 0);
}

export class UsageView {
  constructor(client, root) {
    this.client = client;
    this.root = root;
    this.charts = [];
    this.keyNames = new Map();
    this.before = null;
    this.error = errorBox();
    this.logError = errorBox();
    const today = new Date();
    this.from = field("From", { name: "from", type: "date", value: isoDay(new Date(today - 13 * DAY_MS)) });
    this.to = field("To", { name: "to", type: "date", value: isoDay(today) });
    this.groupBy = field("Stack by", { tag: "select", name: "group_by", options: GROUPS });
    this.show = h("button", { type: "submit" }, "Show");
    this.totals = h("dl", { class: "facts totals", "aria-label": "Totals for the range" });
    this.costCanvas = h("canvas", { role: "img", "aria-label": "Cost per day" });
    this.tokenCanvas = h("canvas", { role: "img", "aria-label": "Tokens per day" });
    this.dataTable = h("table", { class: "keys data" });
    const form = h(
      "form",
      { class: "form usage-form", "aria-label": "Usage range" },
      h("div", { class: "grid3" }, this.from.row, this.to.row, this.groupBy.row),
      h("div", { class: "row" }, this.show),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.loadUsage();
    });

    this.logKey = field("Key", { tag: "select", name: "log_key" });
    this.logModel = field("Model", { name: "log_model", spellcheck: "false" }, "Exact model name.");
    this.logStatus = field("Status", {
      tag: "select",
      name: "log_status",
      options: [
        { value: "", label: "any" },
        { value: "ok", label: "ok" },
        { value: "error", label: "error" },
      ],
    });
    this.logRows = h("tbody");
    this.older = h("button", { type: "button", class: "secondary", hidden: true }, "Older entries");
    const logForm = h(
      "form",
      { class: "form usage-form", "aria-label": "Request log filters" },
      h("div", { class: "grid3" }, this.logKey.row, this.logModel.row, this.logStatus.row),
      h("div", { class: "row" }, h("button", { type: "submit" }, "Filter")),
    );
    logForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.loadLog(false);
    });
    this.older.addEventListener("click", () => this.loadLog(true));

    root.append(
      h("h2", { id: "usage-title" }, "Usage"),
      form,
      this.error,
      h("h3", {}, "Totals"),
      this.totals,
      h("div", { class: "charts" },
        h("figure", { class: "chart" }, h("figcaption", {}, "Cost per day (USD)"), h("div", { class: "chart-box" }, this.costCanvas)),
        h("figure", { class: "chart" }, h("figcaption", {}, "Tokens per day"), h("div", { class: "chart-box" }, this.tokenCanvas)),
      ),
      h("details", { class: "chart-data" }, h("summary", {}, "The numbers behind the charts"),
        h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Usage by day" }, this.dataTable)),
      h("h3", { id: "log-title" }, "Request log"),
      logForm,
      this.logError,
      h(
        "div",
        { class: "table-wrap", tabindex: 0, role: "region", "aria-labelledby": "log-title" },
        h(
          "table",
          { class: "keys log" },
          h("caption", { class: "visually-hidden" }, "Requests, newest first"),
          h("thead", {}, h("tr", {}, ["Time", "Key", "Provider", "Model", "Status", "Tokens", "Cost", "Latency"].map(
            (t) => h("th", { scope: "col" }, t),
          ))),
          this.logRows,
        ),
      ),
      this.older,
    );
  }

  async open() {
    await this.loadKeys();
    await Promise.all([this.loadUsage(), this.loadLog(false)]);
  }

  reset() {
    for (const chart of this.charts) chart.destroy();
    this.charts = [];
    this.totals.replaceChildren();
    this.logRows.replaceChildren();
    showError(this.error, null);
    showError(this.logError, null);
  }

  async loadKeys() {
    try {
      const page = await this.client.listKeys();
      this.keyNames = new Map(page.data.map((k) => [k.id, k.name]));
    } catch {
      this.keyNames = new Map();
    }
    const chosen = this.logKey.input.value;
    this.logKey.input.replaceChildren(
      h("option", { value: "" }, "any"),
      ...[...this.keyNames].map(([id, name]) => h("option", { value: id }, name)),
    );
    this.logKey.input.value = chosen;
  }

  keyLabel(id) {
    return this.keyNames.get(id) ?? id;
  }

  async loadUsage() {
    await busy(this.show, this.error, async () => {
      const from = this.from.input.value;
      const to = this.to.input.value;
      const dimension = this.groupBy.input.value;
      const report = await this.client.getUsage({ from, to, group_by: ["day", dimension] });
      this.showTotals(report.totals);
      await this.draw(report, dimension);
    });
  }

  showTotals(totals) {
    const facts = [
      ["Requests", totals.requests.toLocaleString()],
      ["Errors", totals.errors.toLocaleString()],
      ["Prompt tokens", totals.prompt_tokens.toLocaleString()],
      ["Completion tokens", totals.completion_tokens.toLocaleString()],
      ["Cost", usd(totals.cost_usd)],
    ];
    if (totals.unpriced_requests) facts.push(["Unpriced requests", totals.unpriced_requests.toLocaleString()]);
    this.totals.replaceChildren(...facts.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]));
  }

  /** One stacked bar chart each for cost and tokens: a bar per day, a colour per group. */
  async draw(report, dimension) {
    const column = dimension === "key" ? "key_id" : dimension;
    const days = daysBetween(report.from, report.to);
    const groups = [...new Set(report.data.map((row) => row[column] ?? "(none)"))].sort();
    const series = (value) =>
      groups.map((group, index) => {
        const byDay = new Map();
        for (const row of report.data) {
          if ((row[column] ?? "(none)") === group) byDay.set(row.day, value(row));
        }
        const label = dimension === "key" ? this.keyLabel(group) : group;
        return {
          label,
          data: days.map((day) => byDay.get(day) ?? 0),
          backgroundColor: PALETTE[index % PALETTE.length],
        };
      });
    const cost = series((row) => row.cost_usd ?? 0);
    const tokens = series(tokensOf);
    this.showData(days, cost, tokens);
    const Chart = await loadChart();
    for (const chart of this.charts) chart.destroy();
    const options = {
      animation: false,
      maintainAspectRatio: false,
      responsive: true,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } },
      plugins: { legend: { position: "bottom" } },
    };
    this.charts = [
      new Chart(this.costCanvas, { type: "bar", data: { labels: days, datasets: cost }, options }),
      new Chart(this.tokenCanvas, { type: "bar", data: { labels: days, datasets: tokens }, options }),
    ];
    const names = groups.map((g) => (dimension === "key" ? this.keyLabel(g) : g)).join(", ");
    this.costCanvas.setAttribute("aria-label", `Cost per day, stacked by ${dimension}: ${names || "no use"}`);
    this.tokenCanvas.setAttribute("aria-label", `Tokens per day, stacked by ${dimension}: ${names || "no use"}`);
  }

  /** The charts' numbers as a table (days with any use), for reading and for screen readers. */
  showData(days, cost, tokens) {
    const rows = [];
    days.forEach((day, i) => {
      cost.forEach((set, j) => {
        if (set.data[i] || tokens[j].data[i]) {
          rows.push(h("tr", {}, h("td", {}, day), h("td", {}, set.label), h("td", {}, usd(set.data[i])), h("td", {}, tokens[j].data[i].toLocaleString())));
        }
      });
    });
    this.dataTable.replaceChildren(
      h("thead", {}, h("tr", {}, ["Day", "Group", "Cost", "Tokens"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 4, class: "empty" }, "No use in this range."))),
    );
  }

  async loadLog(older) {
    if (!older) this.before = null;
    const query = { limit: LOG_PAGE };
    if (this.before) query.before = this.before;
    if (this.logKey.input.value) query.key_id = this.logKey.input.value;
    if (this.logStatus.input.value) query.status = this.logStatus.input.value;
    const model = this.logModel.input.value.trim();
    await busy(this.older, this.logError, async () => {
      const page = await this.client.listUsageLogs(query);
      // The log API filters by key and status; the model filter applies to each page.
      const entries = model ? page.data.filter((e) => e.model === model) : page.data;
      const rows = entries.map((entry) => this.logRow(entry));
      if (older) this.logRows.append(...rows);
      else this.logRows.replaceChildren(...rows);
      if (!this.logRows.children.length) {
        this.logRows.append(h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No requests match.")));
      }
      this.before = page.next_before;
      this.older.hidden = !page.next_before;
    });
  }

  logRow(entry) {
    const failed = entry.status >= 400;
    return h(
      "tr",
      { "data-status": failed ? "error" : "ok" },
      h("td", {}, when(entry.time)),
      h("td", {}, this.keyLabel(entry.key_id)),
      h("td", {}, entry.provider ?? "—"),
      h("td", { class: "mono" }, entry.model ?? "—"),
      h("td", { class: failed ? "status-error" : null }, String(entry.status)),
      h("td", {}, `${entry.prompt_tokens} + ${entry.completion_tokens}`),
      h("td", {}, usd(entry.cost_usd)),
      h("td", {}, `${Math.round(entry.latency_ms)} ms`),
    );
  }
}
