// Keras models saved by TensorFlow.js for the browser tests: js/test/tfjs-fixtures.mjs writes
// them (tfjs 4.22.0 in Node), and `truncated` is mnist-cnn with 40 bytes cut off its last shard.

import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './static.mjs';

/** Writes the fixtures into a new temporary folder and returns its path. */
export function writeTfjsFixtures() {
  const dir = mkdtempSync(join(tmpdir(), 'webcnn-tfjs-'));
  execFileSync('node', [join(REPO_ROOT, 'js/test/tfjs-fixtures.mjs'), dir], { stdio: 'pipe' });
  cpSync(join(dir, 'mnist-cnn'), join(dir, 'truncated'), { recursive: true });
  const shard = join(dir, 'truncated', 'group2-shard1of1.bin');
  truncateSync(shard, statSync(shard).size - 40);
  return dir;
}
