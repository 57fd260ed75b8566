/**
 * Test-only, loaded into a worker process with `node --require`: records and refuses every
 * connection to a host that is not this machine, so a test can assert that the process made
 * no network request; and, when asked, runs the process's clock at another moment (AWS's
 * certificates in test/fixtures/captured/ have expired; the verifier must still check them).
 *
 * SES_WORKER_TEST_NETWORK_LOG: file to append `host:port` to, one line per attempt.
 * SES_WORKER_TEST_CLOCK_OFFSET_MS: added to every reading of the clock (Date).
 */
'use strict';
const fs = require('node:fs');
const net = require('node:net');

const logFile = process.env.SES_WORKER_TEST_NETWORK_LOG;
const LOCAL = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  // net.connect passes its normalised arguments as an array whose first item is the options.
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const options = typeof first === 'object' && first !== null ? first : null;
  const host = options ? options.host : typeof args[1] === 'string' ? args[1] : undefined;
  const port = options ? options.port : args[0];
  // No port: a Unix socket (`path`; https also passes its URL path as `path`, with a port).
  // No host: localhost.
  if (port === undefined || port === null || host === undefined || LOCAL.has(host))
    return connect.apply(this, args);
  if (logFile) fs.appendFileSync(logFile, `${host}:${port}\n`);
  process.nextTick(() => this.destroy(new Error(`network access refused by the test: ${host}`)));
  return this;
};

const offset = Number(process.env.SES_WORKER_TEST_CLOCK_OFFSET_MS ?? 0);
if (offset !== 0) {
  const RealDate = Date;
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + offset);
      else super(...args);
    }
    static now() {
      return RealDate.now() + offset;
    }
  }
  globalThis.Date = ShiftedDate;
}
