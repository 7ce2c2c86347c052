// IndexedDB storage (through idb) of the enrolled face crops, one record per crop with the
// person's name, and of the trained recogniser, so both survive reloads.

import { openDB } from 'idb';

const DB_NAME = 'webcnn-face';
const DB_VERSION = 2;
// Key of the one recogniser record in the `models` store.
const MODEL_KEY = 'recogniser';

let database = null;

function db() {
  database ??= openDB(DB_NAME, DB_VERSION, {
    upgrade(upgrade, oldVersion) {
      if (oldVersion < 1) {
        const samples = upgrade.createObjectStore('samples', { keyPath: 'id', autoIncrement: true });
        samples.createIndex('person', 'person');
      }
      if (oldVersion < 2) upgrade.createObjectStore('models');
    },
  });
  return database;
}

/**
 * Stores one face crop of `person`: `rgb` contains `size * size * 3` bytes. Returns the stored
 * record, with its new `id`.
 * @param {string} person
 * @param {Uint8Array} rgb
 * @param {number} size
 */
export async function addSample(person, rgb, size) {
  const record = { person, rgb, size, added: new Date().toISOString() };
  record.id = await (await db()).add('samples', record);
  return record;
}

/**
 * Stores several crops ({person, rgb, size}) in one transaction: all of them or, on error, none.
 */
export async function addSamples(records) {
  const transaction = (await db()).transaction('samples', 'readwrite');
  const added = new Date().toISOString();
  for (const { person, rgb, size } of records) {
    transaction.store.add({ person, rgb, size, added });
  }
  await transaction.done;
}

/** Returns every stored crop, oldest first. */
export async function listSamples() {
  return (await db()).getAll('samples');
}

/** Deletes the crop with `id`. */
export async function deleteSample(id) {
  await (await db()).delete('samples', id);
}

/** Deletes every crop of `person`. */
export async function deletePerson(person) {
  const transaction = (await db()).transaction('samples', 'readwrite');
  for (const id of await transaction.store.index('person').getAllKeys(person)) {
    await transaction.store.delete(id);
  }
  await transaction.done;
}

/**
 * Stores the trained recogniser, replacing the earlier one: `{bytes, people, centroids,
 * trained}` with the model file's bytes, the class names in output order and each person's
 * mean feature vector.
 */
export async function saveRecogniser(record) {
  await (await db()).put('models', record, MODEL_KEY);
}

/** Returns the stored recogniser, or undefined when none was trained. */
export async function loadRecogniser() {
  return (await db()).get('models', MODEL_KEY);
}
