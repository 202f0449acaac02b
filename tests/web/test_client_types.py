"""TypeScript checks the typed client (tsc --checkJs) and its declarations reject misuse."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TSC = ROOT / "node_modules" / ".bin" / "tsc"
CLIENT = ROOT / "gateway" / "web" / "ui" / "api"
FLAGS = [
    "--checkJs",
    "--allowJs",
    "--noEmit",
    "--strict",
    "--target",
    "es2022",
    "--module",
    "es2022",
    "--moduleResolution",
    "bundler",
    "--lib",
    "es2022,dom,dom.iterable",
]

GOOD_USE = """
import { GatewayClient, GatewayError, type ChatCompletionChunk, type Provider } from "./client.js";
const gw = new GatewayClient({ baseUrl: "http://localhost:8080", apiKey: "gw-key" });
async function main(signal: AbortSignal): Promise<string> {
  const providers: Provider[] = (await gw.listProviders({ enabled: true })).data;
  await gw.createProvider({ name: "Local", template: "ollama", api_key: "k", models: [] });
  await gw.updateProvider(providers[0].id, { api_key: null, enabled: false });
  const messages = [{ role: "user" as const, content: "hi" }];
  const stream = await gw.streamChat({ model: "a/b", messages }, { signal });
  let text = "";
  for await (const chunk of stream) {
    const c: ChatCompletionChunk = chunk;
    text += c.choices[0]?.delta.content ?? "";
  }
  const key = await gw.createKey({ name: "ci", scopes: ["chat"] });
  const info = await gw.getKey(key.id);
  await gw.revokeKey(info.id);
  const vectors = await gw.createEmbeddings({ model: "a/e", input: ["x"] });
  text += vectors.data.length;
  try {
    await gw.getTemplate("x");
  } catch (e) {
    if (e instanceof GatewayError) text += e.requestId;
  }
  return text + (stream.provider ?? "");
}
export { main };
"""

BAD_USE = """
import { GatewayClient } from "./client.js";
const gw = new GatewayClient({ baseUrl: "http://localhost:8080" });
async function main(): Promise<number> {
  const providers = await gw.listProviders();
  await gw.createKey({ name: "ci", scopes: ["superuser"] });
  return providers.data[0].has_api_key;
}
export { main };
"""


def tsc(*files: Path) -> subprocess.CompletedProcess[str]:
    if not TSC.exists():
        pytest.fail(f"{TSC} is missing: `make test` installs it (npm ci)", pytrace=False)
    node = shutil.which("node")
    assert node, "node is required to run tsc"
    return subprocess.run(
        [node, str(TSC), *FLAGS, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def usage_file(tmp_path: Path, source: str) -> Path:
    """A TypeScript file beside copies of client.js and client.d.ts, as a web UI vendors them."""
    for name in ("client.js", "client.d.ts"):
        shutil.copy(CLIENT / name, tmp_path / name)
    path = tmp_path / "use.ts"
    path.write_text(source)
    return path


def test_client_js_and_declarations_type_check() -> None:
    result = tsc(CLIENT / "client.js", CLIENT / "client.d.ts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_declarations_accept_correct_use_and_reject_misuse(tmp_path: Path) -> None:
    good = tsc(usage_file(tmp_path, GOOD_USE), tmp_path / "client.js")
    assert good.returncode == 0, good.stdout + good.stderr

    bad = tsc(usage_file(tmp_path, BAD_USE), tmp_path / "client.js")
    assert bad.returncode != 0
    assert "use.ts(6," in bad.stdout and '"superuser"' in bad.stdout
    assert "use.ts(7," in bad.stdout and "boolean" in bad.stdout
