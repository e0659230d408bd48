// JSON-RPC 2.0 over one websocket, reconnecting with backoff (docs/api.md).
//
// new Rpc(url, {onState, onNotify, onOpen}), then connect(): onState(text, ok) says how the link is,
// onNotify(method, params) gets every notification, onOpen() runs after each (re)connect.
// call(method, params) -> Promise of the result; it rejects with {code, message, data}
// (the server's error object, or code 0 when the socket is not open or drops).

const BACKOFF_S = [0.5, 1, 2, 4, 8];

export class Rpc {
  constructor(url, { onState, onNotify, onOpen }) {
    this.url = url;
    this.onState = onState;
    this.onNotify = onNotify;
    this.onOpen = onOpen;
    this.nextId = 1;
    this.pending = new Map();
    this.failures = 0;
    this.socket = null;
  }

  get open() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  connect() {
    this.onState("Connecting to the chair…", false);
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.failures = 0;
      this.onState("Connected", true);
      this.onOpen();
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", () => this.dropped(socket));
  }

  dropped(socket) {
    if (socket !== this.socket) return;
    for (const { reject } of this.pending.values()) {
      reject({ code: 0, message: "the connection to the chair dropped" });
    }
    this.pending.clear();
    const delay = BACKOFF_S[Math.min(this.failures, BACKOFF_S.length - 1)];
    this.failures += 1;
    this.onState(`Connection lost: reconnecting in ${delay} s…`, false);
    setTimeout(() => this.connect(), delay * 1000);
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.id === undefined || message.id === null) {
      if (message.method) this.onNotify(message.method, message.params);
      return;
    }
    const waiting = this.pending.get(message.id);
    if (!waiting) return;
    this.pending.delete(message.id);
    if (message.error) waiting.reject(message.error);
    else waiting.resolve(message.result);
  }

  call(method, params = {}) {
    if (!this.open) {
      return Promise.reject({ code: 0, message: "not connected to the chair" });
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });
  }
}
