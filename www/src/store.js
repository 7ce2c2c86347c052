// IndexedDB storage (through idb) of saved models and of finished or stopped training runs.

import { openDB } from 'idb';

const DB_NAME = 'webcnn';
const DB_VERSION = 1;

let database = null;

function db() {
  database ??= openDB(DB_NAME, DB_VERSION, {
    upgrade(upgrade) {
      upgrade.createObjectStore('models', { keyPath: 'name' });
      upgrade.createObjectStore('runs', { keyPath: 'id' });
    },
  });
  return database;
}

// Saves a model file under `name`, replacing one of the same name.
export async function saveModel(name, bytes, accuracy) {
  await (await db()).put('models', { name, bytes, accuracy, saved: new Date().toISOString() });
}

export async function listModels() {
  return (await db()).getAll('models');
}

export async function getModel(name) {
  return (await db()).get('models', name);
}

export async function deleteModel(name) {
  await (await db()).delete('models', name);
}

export async function saveRun(run) {
  await (await db()).put('runs', run);
}

export async function listRuns() {
  return (await db()).getAll('runs');
}

export async function deleteRun(id) {
  await (await db()).delete('runs', id);
}
