// The planning worker: this same wasm module, off the page's thread. The
// closures are parsed and planned here (src/planning.rs); messages that
// arrive while the module loads wait in a queue.
const queue = [];
self.onmessage = (event) => queue.push(event.data);
const { default: init, worker_handle } = await import("./strata_web.js");
await init();
self.onmessage = (event) => worker_handle(event.data);
for (const message of queue.splice(0)) worker_handle(message);
