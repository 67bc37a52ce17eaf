// oxidis: the Oxidis engine (Redis 7.0-compatible) in WebAssembly, for Node and browsers.
// See README.md; the API is declared in index.d.ts.
export { Engine, Client, ReplyError, EngineError, commands, decodeAnnotated, runGolden, splitArgs, renderReplies, renderReply, _testing } from './engine.js';
export { Redis, Pipeline } from './redis.js';
export { ReplicationLink } from './replication.js';
export { ClusterNetwork, evenSlots } from './cluster.js';
export { Redis as default } from './redis.js';
