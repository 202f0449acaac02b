// Conversations kept in this browser's IndexedDB. Only what was said is stored: never a key.
const DB_NAME = "gateway-console";
const STORE = "conversations";

let opening = null;

function database() {
  opening ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      const store = request.result.createObjectStore(STORE, { keyPath: "id" });
      store.createIndex("updated_at", "updated_at");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opening;
}

async function run(mode, action) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = action(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** Every conversation, most recently changed first. */
export async function listConversations() {
  const all = await run("readonly", (store) => store.getAll());
  return all.sort((a, b) => b.updated_at - a.updated_at);
}

/** Store (or replace) one conversation; a plain copy, so live objects can keep changing. */
export function saveConversation(conversation) {
  return run("readwrite", (store) => store.put(structuredClone(conversation)));
}

export function deleteConversation(id) {
  return run("readwrite", (store) => store.delete(id));
}
