// The guided path. Each step is runnable in the page: a console command in a given client,
// raw bytes, or a clock move. Progress is saved with the rest of the state.

export const LESSONS = [
  {
    id: 'resp',
    title: '1. RESP basics',
    intro:
      'Clients and Redis talk RESP: every request is an array (*) of bulk strings ($), each with its length, each line ended by \\r\\n. Watch the wire under the console.',
    steps: [
      { client: 1, cmd: 'SET greeting hello', text: '*3 says "an array of 3 elements"; $3 "a bulk string of 3 bytes" then SET. The server answers +OK: a simple string.' },
      { client: 1, cmd: 'GET greeting', text: 'The value comes back as a bulk string: $5\\r\\nhello\\r\\n. Lengths first, so values are binary safe.' },
      { client: 1, raw: '*1\\r\\n$4\\r\\nPING\\r\\n', text: 'Raw mode: the same bytes typed by hand. Try it yourself with the Raw RESP button.' },
    ],
  },
  {
    id: 'types',
    title: '2. Types of replies',
    intro: 'RESP2 has five reply types; RESP3 (HELLO 3) adds maps, sets, doubles, booleans, nulls and pushes.',
    steps: [
      { client: 1, cmd: 'INCR visits', text: 'An integer reply: the first byte is a colon (:1).' },
      { client: 1, cmd: 'GET nosuchkey', text: 'A missing value is the null bulk string $-1 — redis-cli shows (nil).' },
      { client: 1, cmd: 'RPUSH fruits apple banana cherry', text: 'Another integer: the new length of the list.' },
      { client: 1, cmd: 'LRANGE fruits 0 -1', text: 'An array of bulk strings: redis-cli numbers the elements.' },
      { client: 1, cmd: 'INCR fruits', text: 'An error reply starts with -: WRONGTYPE, because fruits holds a list.' },
      { client: 1, cmd: 'HSET user:1 name Ada lang Rust; HELLO 3; HGETALL user:1', text: 'After HELLO 3 a hash comes back as a RESP3 map (%2), shown 1# name => Ada.' },
      { client: 1, cmd: 'ZADD scores 1.5 ada; ZSCORE scores ada; HELLO 2; ZSCORE scores ada', text: 'A double: ,1.5 in RESP3, a bulk string "1.5" in RESP2.' },
    ],
  },
  {
    id: 'pipeline',
    title: '3. Pipelining',
    intro: 'A client may write several requests without waiting: the server answers them in order. One round trip instead of three.',
    steps: [
      { client: 1, cmd: 'SET counter 10; INCR counter; GET counter', text: 'Three requests in one write (see "3 frames in one write" on the wire), three replies back in one read.' },
      { client: 1, raw: 'PING\\r\\nPING\\r\\n', text: 'Inline commands pipeline too: two lines in one write, two +PONG back.' },
    ],
  },
  {
    id: 'ttl',
    title: '4. Time to live',
    intro: 'Keys can expire, and the server can tell a subscribed client when they do. The clock here is simulated: pause it, step it, fast-forward it and watch the keyspace.',
    steps: [
      { client: 1, cmd: 'CONFIG SET notify-keyspace-events Ex', text: 'Turn on keyspace notifications: E publishes on __keyevent@<db>__:<event> channels, x selects the expiry events.' },
      { client: 2, cmd: 'SUBSCRIBE __keyevent@0__:expired', text: 'Client 2 listens for keys of database 0 that expire (as Spring Session or a job scheduler does).' },
      { client: 1, cmd: 'SET session abc EX 30', text: 'session lives 30 seconds: see its TTL in the keyspace panel.' },
      { client: 1, cmd: 'TTL session', text: 'Seconds left.' },
      { advance: 31_000, text: 'Fast-forward the clock 31 seconds: nobody reads the key, the active expiry cycle removes it, and client 2\'s wire shows the notification arriving: "message", the channel, the key.' },
      { client: 1, cmd: 'GET session', text: 'Gone: (nil).' },
    ],
  },
  {
    id: 'tx',
    title: '5. Transactions',
    intro: 'MULTI queues commands, EXEC runs them together. WATCH makes EXEC fail if another client changed a watched key.',
    steps: [
      { client: 1, cmd: 'MULTI; INCR balance; INCR balance; EXEC', text: 'Each queued command answers +QUEUED; EXEC returns all replies in one array.' },
      { client: 1, cmd: 'WATCH balance', text: 'Client 1 watches balance...' },
      { client: 2, cmd: 'SET balance 100', text: '...client 2 changes it...' },
      { client: 1, cmd: 'MULTI; INCR balance; EXEC', text: '...so client 1\'s EXEC returns a null array: (nil). Nothing ran.' },
    ],
  },
  {
    id: 'pubsub',
    title: '6. Pub/sub',
    intro: 'A subscribed client receives messages pushed by the server whenever someone publishes.',
    steps: [
      { client: 2, cmd: 'SUBSCRIBE news', text: 'Client 2 subscribes: the confirmation is an array (a push in RESP3).' },
      { client: 1, cmd: 'PUBLISH news hello', text: 'Client 1 publishes: it gets the number of receivers; client 2\'s wire shows the message arriving unasked.' },
    ],
  },
  {
    id: 'blocking',
    title: '7. Blocking pops',
    intro: 'BLPOP waits for data: the server holds the reply until another client pushes.',
    steps: [
      { client: 3, cmd: 'BLPOP jobs 0', text: 'Client 3 blocks: no reply yet.' },
      { client: 1, cmd: 'LPUSH jobs job-1', text: 'Client 1 pushes: client 3 wakes up with ["jobs", "job-1"].' },
    ],
  },
  {
    id: 'errors',
    title: '8. Protocol errors',
    intro: 'A request the server cannot parse is a protocol error: Redis replies -ERR Protocol error and closes the connection.',
    steps: [
      { client: 1, raw: '*2\\r\\n$3\\r\\nGET\\r\\n', text: 'Half a request: the parser waits for element 2 of 2.' },
      { client: 1, raw: 'x\\r\\n', text: 'Not a $: the server replies with a protocol error and closes the connection.' },
    ],
  },
  {
    id: 'scripting',
    title: '9. Lua scripts',
    intro:
      'EVAL runs a Lua script inside the server. It reaches the data with redis.call, runs atomically (no other client runs in between), and its return value is converted to a reply. Watch the wire: the script travels as one bulk string, the reply is ordinary RESP.',
    steps: [
      { client: 1, cmd: `EVAL "return {KEYS[1], ARGV[1], #ARGV}" 1 user:1 hello world`, text: 'After the script comes numkeys (1): the next argument is KEYS[1], the rest are ARGV. A Lua table comes back as an array: *3, two bulk strings and the integer 2.' },
      { client: 1, cmd: `EVAL "return {3.99, -0.5, 'text', true, false, 'after'}" 0`, text: 'Conversion rules: a Lua number becomes an integer, truncated (3.99 is :3, -0.5 is :0); true is :1; false is the null bulk string $-1, and the array goes on.' },
      { client: 1, cmd: `EVAL "return {1, 2, nil, 4}" 0`, text: 'nil ends the array: only *2 comes back, the 4 after the hole is lost.' },
      { client: 1, cmd: `EVAL "return {ok='DONE'}" 0; EVAL "return {err='MYERR custom error'}" 0`, text: 'A table with ok is a status reply (+DONE), a table with err an error reply (-MYERR ...).' },
      { client: 1, cmd: `SCRIPT LOAD "return redis.call('GET', KEYS[1])"`, text: 'SCRIPT LOAD caches a script and answers its SHA1: 40 hex digits that stand for the whole body.' },
      { client: 1, cmd: 'SET greeting hi; EVALSHA d3c21d0c2b9ca22f82737626a27bcaf5d288f99f 1 greeting', text: 'EVALSHA runs the cached script by its SHA1: only 40 bytes of script on the wire instead of the body.' },
      { client: 1, cmd: 'EVALSHA ffffffffffffffffffffffffffffffffffffffff 0', text: 'An unknown SHA1 is a NOSCRIPT error: clients then fall back to EVAL, which caches the script again.' },
      { client: 1, cmd: `SET name ada; EVAL "return redis.call('INCR', KEYS[1])" 1 name`, text: 'redis.call raises a failing command\'s error: the script stops, and the error names the script (its SHA1) and the line.' },
      { client: 1, cmd: `EVAL "local r = redis.pcall('INCR', KEYS[1]) return {'caught', r.err}" 1 name`, text: 'redis.pcall returns the error as a table {err=...} instead: the script goes on and decides what to do.' },
      { client: 1, cmd: 'SET stock 1', text: 'Atomicity: one item left in stock...' },
      { client: 1, cmd: `EVAL "if tonumber(redis.call('GET', KEYS[1])) > 0 then return redis.call('DECR', KEYS[1]) end return redis.error_reply('SOLDOUT no stock left')" 1 stock`, text: '...client 1 checks and takes it in one step: no other client can run between the GET and the DECR.' },
      { client: 2, cmd: `EVAL "if tonumber(redis.call('GET', KEYS[1])) > 0 then return redis.call('DECR', KEYS[1]) end return redis.error_reply('SOLDOUT no stock left')" 1 stock`, text: 'Client 2 runs the same check-and-set: the stock is gone, so it gets the script\'s own error.' },
      { client: 1, cmd: `SCRIPT LOAD "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return n <= tonumber(ARGV[2])"`, text: 'A rate limiter in one line: count the calls in a 60 s window, allow ARGV[2] of them.' },
      { client: 1, cmd: 'EVALSHA 4bf7d58fae1f53f07bdbc01035fe242bdbd048ed 1 rate:ada 60 2; EVALSHA 4bf7d58fae1f53f07bdbc01035fe242bdbd048ed 1 rate:ada 60 2; EVALSHA 4bf7d58fae1f53f07bdbc01035fe242bdbd048ed 1 rate:ada 60 2', text: 'Three calls with a limit of 2: true (:1), true (:1), then false ($-1). The key rate:ada expires after 60 s and the window starts again.' },
    ],
  },
  {
    id: 'streams',
    title: '10. Streams',
    intro:
      'A stream is an append-only log: every entry has an ID (milliseconds-sequence) and a few field/value pairs. A consumer group shares the entries among its consumers and remembers, per entry, who got it until that consumer acknowledges it (the pending entries list). Client 1 produces, clients 2 and 3 consume; the keyspace panel shows the stream, its group, consumers and pending entries. The IDs here are explicit (1-1, 1-2 ...) so every run answers the same bytes; XADD with * would make one from the clock.',
    steps: [
      { client: 1, cmd: 'XADD orders 1-1 item book qty 1', text: 'XADD appends an entry and answers its ID. orders did not exist: XADD created the stream.' },
      { client: 1, cmd: 'XADD orders 1-2 item pen qty 3; XADD orders 1-3 item ink qty 2', text: 'Two more entries. IDs must grow: XADD orders 1-2 again would be refused (equal or smaller than the stream top item).' },
      { client: 1, cmd: 'XLEN orders; XRANGE orders - +', text: 'XLEN counts the entries; XRANGE reads them by ID (- and + are the smallest and greatest): each entry is an array of its ID and its fields and values.' },
      { client: 1, cmd: 'XGROUP CREATE orders shipping 0', text: 'A consumer group "shipping" that starts before the first entry (ID 0): everything in the stream is still to be delivered.' },
      { client: 2, cmd: 'XREADGROUP GROUP shipping alice COUNT 1 STREAMS orders >', text: 'Client 2 reads as consumer alice. > means "entries never delivered to this group": she gets 1-1, which is now pending for her.' },
      { client: 3, cmd: 'XREADGROUP GROUP shipping bob COUNT 1 STREAMS orders >', text: 'Client 3 reads as consumer bob and gets the next entry, 1-2: the group hands each entry to one consumer only.' },
      { client: 1, cmd: 'XPENDING orders shipping', text: 'XPENDING sums up what was delivered and not yet acknowledged: 2 entries, from 1-1 to 1-2, one each for alice and bob. The keyspace panel lists them with owner and delivery count.' },
      { client: 2, cmd: 'XREADGROUP GROUP shipping alice COUNT 1 STREAMS orders >', text: 'Alice is faster: she takes the next new entry, 1-3. Bob still holds 1-2.' },
      { client: 2, cmd: 'XACK orders shipping 1-1 1-3', text: 'XACK tells the group alice is done with 1-1 and 1-3: they leave the pending list (:2 acknowledged). The entries stay in the stream.' },
      { client: 2, cmd: 'XREADGROUP GROUP shipping alice BLOCK 0 STREAMS orders >', text: 'Nothing new to deliver, so with BLOCK 0 client 2 waits (no reply yet), like BLPOP.' },
      { client: 1, cmd: 'XADD orders 1-4 item tape qty 5', text: 'The producer adds 1-4: client 2 wakes up with it at once (see its console and wire).' },
      { client: 2, cmd: 'XACK orders shipping 1-4', text: 'Alice acknowledges 1-4. Only bob\'s 1-2 is pending now, and bob never comes back.' },
      { advance: 10_000, text: 'Fast-forward the clock 10 seconds: 1-2 has been pending for 10 s (its idle time in the keyspace panel).' },
      { client: 2, cmd: 'XAUTOCLAIM orders shipping alice 10000 0', text: 'XAUTOCLAIM hands to alice the entries idle for at least 10000 ms, scanning the pending list from ID 0: she gets bob\'s 1-2. The reply: the cursor to continue from (0-0: the scan is complete), the entries claimed, and the IDs of claimed entries that were deleted meanwhile (none).' },
      { client: 1, cmd: 'XPENDING orders shipping', text: '1-2 is now alice\'s, delivered twice (see the keyspace panel). After XACK orders shipping 1-2 nothing would be pending.' },
    ],
  },
  {
    id: 'bitmaps',
    title: '11. Bitmaps',
    intro:
      'A bitmap is a string used as an array of bits: SETBIT and GETBIT address single bits, BITCOUNT counts the ones, BITOP combines whole strings. One bit per user id makes a day of logins: a million users fit in 125 KB.',
    steps: [
      { client: 1, cmd: 'SETBIT logins:mon 3 1; SETBIT logins:mon 7 1; SETBIT logins:mon 12 1', text: 'Users 3, 7 and 12 log in on Monday: SETBIT sets their bits and answers each bit\'s old value (0). The string grows to 2 bytes to hold bit 12.' },
      { client: 1, cmd: 'GETBIT logins:mon 7; GETBIT logins:mon 8; GETBIT logins:mon 5000', text: 'Did user 7 log in? 1. User 8 did not: 0. Bits past the end of the string read as 0 too.' },
      { client: 1, cmd: 'GET logins:mon', text: 'It is an ordinary string: bit 0 is the most significant bit of the first byte, so bits 3 and 7 make the byte 0x11 and bit 12 the byte 0x08 (redis-cli shows it as \\b).' },
      { client: 1, cmd: 'BITCOUNT logins:mon', text: 'BITCOUNT counts the bits set: 3 users logged in on Monday.' },
      { client: 1, cmd: 'SETBIT logins:tue 7 1; SETBIT logins:tue 9 1; SETBIT logins:tue 12 1', text: 'Tuesday: users 7, 9 and 12.' },
      { client: 1, cmd: 'BITOP AND logins:both logins:mon logins:tue; BITCOUNT logins:both', text: 'BITOP AND writes the bitwise AND of the two days into logins:both and answers its length in bytes (2); BITCOUNT then says 2 users (7 and 12) logged in on both days. BITOP OR would count those seen on either day.' },
    ],
  },
  {
    id: 'hyperloglog',
    title: '12. HyperLogLog',
    intro:
      'A HyperLogLog counts distinct elements without storing them: at most 12 KB per key, however many elements, for an estimate with a standard error of 0.81%. Small counts like these are exact in practice; on millions of visitors expect an answer within about 1% of the truth.',
    steps: [
      { client: 1, cmd: 'PFADD visitors:mon alice bob carol', text: 'Monday\'s visitors. PFADD answers 1: the estimate changed.' },
      { client: 1, cmd: 'PFADD visitors:mon alice bob', text: 'The same visitors again answer 0: nothing changed, they were already counted.' },
      { client: 1, cmd: 'PFCOUNT visitors:mon', text: 'PFCOUNT estimates the number of distinct visitors: 3.' },
      { client: 1, cmd: 'PFADD visitors:tue bob dave erin; PFCOUNT visitors:tue', text: 'Tuesday\'s visitors: bob came back, dave and erin are new.' },
      { client: 1, cmd: 'PFMERGE visitors:week visitors:mon visitors:tue; PFCOUNT visitors:week', text: 'PFMERGE makes the union of the two days in visitors:week: 5 distinct visitors, bob counted once. PFCOUNT visitors:mon visitors:tue would give the same without storing it.' },
      { client: 1, cmd: 'GETRANGE visitors:week 0 3', text: 'The HyperLogLog is a string too, starting with the magic HYLL. Small ones use a sparse encoding of a few bytes; it becomes the dense 12 KB form as it fills up.' },
    ],
  },
  {
    id: 'geo',
    title: '13. Places near a point',
    intro:
      'A geo index is a sorted set: GEOADD turns each longitude/latitude into a 52-bit geohash and stores it as the member\'s score, so places near each other have close scores and a search reads a few ranges of the set.',
    steps: [
      { client: 1, cmd: 'GEOADD cities 2.3522 48.8566 Paris 13.4050 52.5200 Berlin 12.4964 41.9028 Rome -0.1276 51.5072 London', text: 'Four cities, longitude first, then latitude. GEOADD answers how many were added.' },
      { client: 1, cmd: 'GEODIST cities Paris Berlin km', text: 'The distance from Paris to Berlin in km (m, km, ft or mi), on a sphere of the Earth\'s radius: a straight line, not a road.' },
      { client: 1, cmd: 'GEOSEARCH cities FROMLONLAT 4.3517 50.8503 BYRADIUS 800 km WITHDIST ASC', text: 'Which cities are within 800 km of Brussels (4.3517, 50.8503)? Nearest first, each with its distance in km. Rome, about 1170 km away, is left out.' },
      { client: 1, cmd: 'GEOPOS cities Rome', text: 'The position comes back from the geohash: within a metre of what was added, not exactly the same digits.' },
      { client: 1, cmd: 'TYPE cities; ZSCORE cities Paris', text: 'It is a sorted set (see the keyspace panel), and the score is the geohash as an integer: ZRANGE, ZREM and the other sorted set commands work on it.' },
    ],
  },
];
