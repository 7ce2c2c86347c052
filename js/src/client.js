// Request/reply channel to a worker (a training worker, see engine.js, or the face worker),
// plus one listener per event type.

export class WorkerClient {
  // `name` labels the worker in the message of a failed start.
  constructor(worker, name = 'training worker') {
    this.worker = worker;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Map();
    worker.onmessage = (event) => this.receive(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.emit('crashed', { error: event.message || `the ${name} failed to start` });
    };
  }

  // Sends a request; resolves with the worker's value or rejects with an Error carrying its
  // message.
  request(type, args = {}, transfer = []) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, type, ...args }, transfer);
    });
  }

  on(type, listener) {
    this.listeners.set(type, listener);
  }

  emit(type, message) {
    const listener = this.listeners.get(type);
    if (listener) listener(message);
  }

  receive(message) {
    if (message.type !== 'reply') {
      this.emit(message.type, message);
      return;
    }
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    if (message.ok) pending.resolve(message.value);
    else pending.reject(new Error(message.error));
  }
}
