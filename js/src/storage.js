// Model files in IndexedDB: database 'webcnn', store 'models', records {name, bytes, saved},
// the same store the trainer page uses, so models saved there load here and back.

const DB_NAME = 'webcnn';
const DB_VERSION = 1;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function open() {
  const req = indexedDB.open(DB_NAME, DB_VERSION);
  req.onupgradeneeded = () => {
    req.result.createObjectStore('models', { keyPath: 'name' });
    req.result.createObjectStore('runs', { keyPath: 'id' });
  };
  return request(req);
}

async function withStore(mode, action) {
  const db = await open();
  try {
    return await request(action(db.transaction('models', mode).objectStore('models')));
  } finally {
    db.close();
  }
}

/** Stores model file `bytes` under `name`, replacing one of the same name. */
export function putModel(name, bytes) {
  return withStore('readwrite', (store) => store.put({ name, bytes, saved: new Date().toISOString() }));
}

/** Returns the bytes of the model saved under `name`; raises when there is none. */
export async function getModel(name) {
  const record = await withStore('readonly', (store) => store.get(name));
  if (!record) throw new Error(`no model named ${JSON.stringify(name)} in IndexedDB; save it first with model.save('indexeddb://${name}')`);
  return record.bytes;
}
