// BullMQ in-process: Queue, Worker and QueueEvents whose connection is the facade over the wasm
// engine (BullMQ takes any client with ioredis's defineCommand; its Worker and QueueEvents
// duplicate() it for their blocking BZPOPMIN / XREAD BLOCK connections). The scenario is the one
// tests/clients/node/bullmq.mjs runs with ioredis against oxidis-server and redis-server.
import { test, after } from 'node:test';
import * as bullmq from 'bullmq';
import Redis, { Engine } from 'oxidis';
import { scenarios } from '../../tests/clients/node/bullmq-scenario.mjs';

const engine = new Engine({ seed: 1 });
const connection = new Redis({ engine });
const admin = connection.duplicate();
for (const [name, f] of scenarios(bullmq, connection, admin)) test(`bullmq on the facade: ${name}`, f);
after(() => engine.free());
