// Preloaded into Portkey's gateway by bench/bench_gateway.py (node --require): its
// start-server.js has no host option and listens on every interface; the bench binds
// loopback only, so a listen() without a host gets 127.0.0.1.
"use strict";
const net = require("node:net");

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number" && (args[1] === undefined || typeof args[1] === "function")) {
    args.splice(1, args[1] === undefined ? 1 : 0, "127.0.0.1");
  }
  return listen.apply(this, args);
};
