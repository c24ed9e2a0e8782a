import { LuaScript } from './lua-script.js';

/** Shared Lua helpers: stream ids compare by their two numbers, never as strings. */
const ID_HELPERS = `
local function parse_id(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function cmp_id(a, b)
  local am, as = parse_id(a)
  local bm, bs = parse_id(b)
  if am ~= bm then if am < bm then return -1 else return 1 end end
  if as ~= bs then if as < bs then return -1 else return 1 end end
  return 0
end
local function stream_info(key)
  local info = redis.call('XINFO', 'STREAM', key)
  local last, maxdel = '0-0', '0-0'
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then last = info[i + 1]
    elseif info[i] == 'max-deleted-entry-id' then maxdel = info[i + 1] end
  end
  return last, maxdel
end
-- Trim by XDEL rather than MAXLEN: only XDEL records max-deleted-entry-id,
-- which is what tells a resuming reader whether anything after its id is gone.
local function trim(key, cap)
  local excess = redis.call('XLEN', key) - cap
  if excess > 0 then
    local old = redis.call('XRANGE', key, '-', '+', 'COUNT', excess)
    local ids = {}
    for i, e in ipairs(old) do ids[i] = e[1] end
    redis.call('XDEL', key, unpack(ids))
  end
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function prune_ended(state, ended, ttl_ms, now)
  local old = redis.call('ZRANGEBYSCORE', ended, '-inf', now - ttl_ms, 'LIMIT', 0, 500)
  if #old > 0 then
    redis.call('HDEL', state, unpack(old))
    redis.call('ZREM', ended, unpack(old))
  end
end
`;

/**
 * The one atomic step of the design: append each event to its capped stream,
 * record it as its entity's latest, and publish the batch on the live channel.
 * The stored entry is the envelope without its id; the id is spliced in here,
 * so the live message and the snapshot carry exactly what readers will see.
 *
 * With expectations, a compare-and-append: every entity named must be at its
 * expected version (the id its snapshot entry carries; '' for none) or
 * nothing is written and the reply is {'CONFLICT', entity, its entry or ''}.
 *
 * With an idempotency claim, the claim's record is looked up first: when it
 * exists nothing is written and the reply is {'REPLAY', record}; otherwise
 * the record ({"fingerprint", "answer", "ids"}) is written with the events.
 *
 * KEYS: 1 project stream, 2 state hash, 3 ended zset, 4.. log streams and
 *       owners' open sets, then the idempotency record when claimed.
 * ARGV: 1 channel, 2 max events, 3 max log lines, 4 log ttl s,
 *       5 ended ttl ms, 6 n, then per event:
 *       key index, body JSON, entity key ('' for none), '1' if it ends the entity,
 *       the key index of its owner's open set (0 for none);
 *       then m (absent: 0), and per expectation: entity key, expected version or '';
 *       then the record's key index (absent: 0, none), fingerprint, answer (as a JSON string), ttl ms.
 */
export const APPEND_SCRIPT = new LuaScript(
  `${ID_HELPERS}
local now = now_ms()
local n = tonumber(ARGV[6])
local m = tonumber(ARGV[7 + n * 5] or '0')
local ib = 8 + n * 5 + m * 2
local ik = tonumber(ARGV[ib] or '0')
if ik > 0 then
  local record = redis.call('GET', KEYS[ik])
  if record then return {'REPLAY', record} end
end
if m > 0 then
  -- Ended entities past their time are gone for a condition as for a snapshot.
  prune_ended(KEYS[2], KEYS[3], tonumber(ARGV[5]), now)
  for j = 0, m - 1 do
    local entity = ARGV[8 + n * 5 + j * 2]
    local expected = ARGV[9 + n * 5 + j * 2]
    local current = redis.call('HGET', KEYS[2], entity)
    local version = ''
    if current then version = string.match(current, '^{"id":"([^"]+)"') or '' end
    if version ~= expected then return {'CONFLICT', entity, current or ''} end
  end
end
local ids = {}
local fulls = {}
local touched = {}
for i = 0, n - 1 do
  local base = 7 + i * 5
  local ki = tonumber(ARGV[base])
  local body = ARGV[base + 1]
  local entity = ARGV[base + 2]
  local id = redis.call('XADD', KEYS[ki], '*', 'e', body)
  touched[ki] = true
  local full = '{"id":"' .. id .. '",' .. string.sub(body, 2)
  if entity ~= '' then
    redis.call('HSET', KEYS[2], entity, full)
    if ARGV[base + 3] == '1' then
      redis.call('ZADD', KEYS[3], now, entity)
    else
      redis.call('ZREM', KEYS[3], entity)
    end
    local oi = tonumber(ARGV[base + 4])
    if oi > 0 then
      if ARGV[base + 3] == '1' then
        redis.call('SREM', KEYS[oi], entity)
      else
        redis.call('SADD', KEYS[oi], entity)
      end
    end
  end
  ids[#ids + 1] = id
  fulls[#fulls + 1] = full
end
-- Trimmed once per stream per batch: nobody sees a stream between the XADDs.
for ki in pairs(touched) do
  if ki == 1 then
    trim(KEYS[ki], tonumber(ARGV[2]))
  else
    trim(KEYS[ki], tonumber(ARGV[3]))
    redis.call('EXPIRE', KEYS[ki], ARGV[4])
  end
end
prune_ended(KEYS[2], KEYS[3], tonumber(ARGV[5]), now)
if ik > 0 then
  local record = '{"fingerprint":"' .. ARGV[ib + 1] .. '","answer":' .. ARGV[ib + 2] ..
    ',"ids":["' .. table.concat(ids, '","') .. '"]}'
  redis.call('SET', KEYS[ik], record, 'PX', ARGV[ib + 3])
end
local message = '[' .. table.concat(fulls, ',') .. ']'
redis.call('SPUBLISH', ARGV[1], message)
return ids
`,
);

/**
 * Events after \`since\`, or {0} when they are not all held: \`since\` beyond the
 * stream's last id (never issued, or Redis restarted empty), below the highest
 * trimmed id (trimmed), or an id between entries (never issued).
 *
 * KEYS: 1 stream. ARGV: 1 since, 2 limit, 3 \`types\` for types instead of bodies.
 * Returns {1, lastId, hasMore, id1, body1, id2, body2, ...}, or {0, maxDeletedId}
 * when not held ({0} when the stream does not exist).
 */
export const READ_AFTER_SCRIPT = new LuaScript(
  `${ID_HELPERS}
local since = ARGV[1]
if redis.call('EXISTS', KEYS[1]) == 0 then
  if cmp_id(since, '0-0') == 0 then return {1, '0-0', 0} end
  return {0}
end
local last, maxdel = stream_info(KEYS[1])
if cmp_id(since, last) > 0 or cmp_id(since, maxdel) < 0 then return {0, maxdel} end
if cmp_id(since, '0-0') ~= 0 and cmp_id(since, maxdel) ~= 0 then
  if #redis.call('XRANGE', KEYS[1], since, since) == 0 then return {0, maxdel} end
end
local limit = tonumber(ARGV[2])
local entries = redis.call('XRANGE', KEYS[1], '(' .. since, '+', 'COUNT', limit + 1)
local has_more = 0
if #entries > limit then
  has_more = 1
  entries[#entries] = nil
end
local out = {1, last, has_more}
local types_only = ARGV[3] == 'types'
for _, e in ipairs(entries) do
  out[#out + 1] = e[1]
  -- Bodies are written with \`type\` first: the type alone costs a counting reader nothing to parse.
  if types_only then out[#out + 1] = string.match(e[2][2], '^{"type":"([^"]*)"') or ''
  else out[#out + 1] = e[2][2] end
end
return out
`,
);

/**
 * The snapshot and the stream position it is consistent with, read atomically.
 * Ended entities past their time are pruned first.
 *
 * KEYS: 1 stream, 2 state, 3 ended. ARGV: 1 ended ttl ms.
 * Returns {position, {key1, json1, key2, json2, ...}}.
 */
export const SNAPSHOT_SCRIPT = new LuaScript(
  `${ID_HELPERS}
prune_ended(KEYS[2], KEYS[3], tonumber(ARGV[1]), now_ms())
local last = '0-0'
if redis.call('EXISTS', KEYS[1]) == 1 then last = stream_info(KEYS[1]) end
return {last, redis.call('HGETALL', KEYS[2])}
`,
);

/**
 * The latest event of each of an owner's open entities (see the append
 * script); members whose entity is gone from the snapshot are dropped.
 *
 * KEYS: 1 the owner's open set, 2 state.
 */
export const OPEN_SCRIPT = new LuaScript(`
local out = {}
for _, entity in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local latest = redis.call('HGET', KEYS[2], entity)
  if latest then out[#out + 1] = latest else redis.call('SREM', KEYS[1], entity) end
end
return out
`);

/**
 * The latest event of each entity named ('' for none), ended entities past
 * their time pruned first, as a conditional append sees them.
 *
 * KEYS: 1 state, 2 ended. ARGV: 1 ended ttl ms, 2.. entity keys.
 */
export const ENTITIES_SCRIPT = new LuaScript(
  `${ID_HELPERS}
prune_ended(KEYS[1], KEYS[2], tonumber(ARGV[1]), now_ms())
local out = {}
for i = 2, #ARGV do out[i - 1] = redis.call('HGET', KEYS[1], ARGV[i]) or '' end
return out
`,
);
