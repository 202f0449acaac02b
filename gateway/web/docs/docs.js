// Renders /api/v1/openapi.json for people: no framework, no CDN.
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
};

const json = (value) => el("pre", {}, JSON.stringify(value, null, 2));

function renderOperation(path, method, op) {
  const body = el("div");
  if (op.description) body.append(el("p", {}, op.description));
  if (op.parameters?.length) {
    const rows = op.parameters.map((p) =>
      el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in), el("td", {}, p.required ? "required" : "optional")));
    body.append(el("h4", {}, "Parameters"), el("table", {}, ...rows));
  }
  const request = op.requestBody?.content?.["application/json"]?.schema;
  if (request) body.append(el("h4", {}, "Request body"), json(request));
  body.append(el("h4", {}, "Responses"));
  for (const [status, response] of Object.entries(op.responses ?? {})) {
    body.append(el("p", {}, el("code", {}, status), " ", response.description));
  }
  return el("details", {},
    el("summary", {}, el("span", { class: `method ${method}` }, method.toUpperCase()), el("code", {}, path), " — ", op.summary ?? ""),
    body);
}

async function main() {
  const target = document.getElementById("ops");
  const response = await fetch("/api/v1/openapi.json");
  if (!response.ok) {
    target.replaceChildren(el("p", {}, `Could not load the document: HTTP ${response.status}`));
    return;
  }
  const doc = await response.json();
  document.getElementById("title").textContent = `${doc.info.title} ${doc.info.version}`;
  document.getElementById("summary").textContent = doc.info.description ?? "";
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = op.tags?.[0] ?? "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(renderOperation(path, method, op));
    }
  }
  target.replaceChildren(...[...byTag].map(([tag, ops]) => el("section", { class: "tag" }, el("h2", {}, tag), ...ops)));
}

main();
