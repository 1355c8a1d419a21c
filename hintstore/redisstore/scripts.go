package redisstore

import "github.com/redis/rueidis"

// The learning rules run inside Redis as Lua scripts, so that an
// observation from any node reads and writes a route atomically: two nodes
// that each see one requester of a private link make a quorum of two.
//
// Keys, under the configured prefix:
//
//	r:ROUTE   the route's hints: {"u":ms,"e":ms,"p":[[target,value]…],"q":[…],"y":[names]}
//	          (public links, quorum private links, Vary names; Updated and
//	          Expires in Unix ms). The only key nodes read on the request
//	          path, so the only one written when what Get returns changes.
//	s:ROUTE   the route's bookkeeping: {"w":[[target,value,firstMs,[[net,acct]…]]…],"i":[targets]}
//	          (links waiting for their quorum, the targets indexed for it)
//	t:TARGET  set of the routes whose links or waiting links name TARGET
//	routes    sorted set of routes by the time nothing of them is left
//	door      the doorkeeper: routes seen once while the store was full
//	stats     hash of fleet-wide counters (evictions, observations)
//	identity  the requester identity key every node shares (hex)
//
// Every key expires by Redis TTL a grace period after the logic would
// consider it gone; the logic compares the stored times with the clock
// the node passes in, so a test clock works too. The keys that outlive one
// route are renewed by the writes that need them: routes by every
// observation that adds to it, stats and identity (TTL plus grace) when
// half their time is gone, identity also by every node's periodic check.
// A fleet idle for longer than that starts afresh, which loses nothing
// that had not expired anyway.
//
// A value the scripts cannot read (not JSON, not the expected shape,
// another Redis type: written by hand or by a future version) is read as
// absent and deleted, so the next observation writes the route anew and a
// purge removes it.

// prelude holds the helpers every script shares.
const prelude = `
local function list(t) if type(t) ~= 'table' then return {} end return t end
-- links keeps the well-formed [target, value] pairs of t.
local function links(t)
  local out = {}
  for _, l in ipairs(list(t)) do
    if type(l) == 'table' and type(l[1]) == 'string' and type(l[2]) == 'string' then out[#out + 1] = {l[1], l[2]} end
  end
  return out
end
-- strs keeps the strings of t.
local function strs(t)
  local out = {}
  for _, x in ipairs(list(t)) do if type(x) == 'string' then out[#out + 1] = x end end
  return out
end
-- pending keeps the well-formed waiting links of t: [target, value, firstMs, [[net, acct]…]].
local function pending(t)
  local out = {}
  for _, p in ipairs(list(t)) do
    if type(p) == 'table' and type(p[1]) == 'string' and type(p[2]) == 'string' and type(p[3]) == 'number' then
      out[#out + 1] = {p[1], p[2], p[3], links(p[4])}
    end
  end
  return out
end
-- load returns the decoded value of key and its raw text. A value this
-- version cannot read is deleted and read as absent.
local function load(key)
  local raw = redis.pcall('GET', key)
  if type(raw) == 'table' then redis.call('DEL', key); return {}, nil end
  if not raw then return {}, nil end
  local ok, v = pcall(cjson.decode, raw)
  if not ok or type(v) ~= 'table' then redis.call('DEL', key); return {}, nil end
  return v, raw
end
-- members returns the members of the set at key; a key of another type
-- is deleted.
local function members(key)
  local m = redis.pcall('SMEMBERS', key)
  if m.err then redis.call('DEL', key); return {} end
  return m
end
local function has(ls, l)
  for _, x in ipairs(ls) do if x[1] == l[1] and x[2] == l[2] then return true end end
  return false
end
local function distinct(a, b)
  if a[1] == b[1] then return false end
  return a[2] == '' or b[2] == '' or a[2] ~= b[2]
end
local function nonempty(t) if #t == 0 then return nil end return t end
-- targets returns the distinct targets of the links and waiting links.
local function targets(pub, prv, pend)
  local out, seen = {}, {}
  for _, set in ipairs({pub, prv, pend}) do
    for _, l in ipairs(set) do
      if not seen[l[1]] then seen[l[1]] = true; out[#out + 1] = l[1] end
    end
  end
  return out, seen
end
-- reindex moves route from the target sets of old to those of new and
-- returns the targets whose sets changed.
local function reindex(prefix, route, old, new, newset, ttl)
  local changed = {}
  for _, t in ipairs(old) do
    if not newset[t] and redis.pcall('SREM', prefix .. 't:' .. t, route) == 1 then changed[#changed + 1] = t end
  end
  for _, t in ipairs(new) do
    local tk = prefix .. 't:' .. t
    local added = redis.pcall('SADD', tk, route)
    if type(added) == 'table' then
      redis.call('DEL', tk)
      added = redis.call('SADD', tk, route)
    end
    -- An EXPIRE is a write that invalidates every node's cached answer,
    -- so it is renewed only when half the time to live has gone.
    if added == 1 then
      changed[#changed + 1] = t
      redis.call('PEXPIRE', tk, ttl)
    elseif redis.call('PTTL', tk) < ttl / 2 then
      redis.call('PEXPIRE', tk, ttl)
    end
  end
  return changed
end
-- drop removes everything of route and returns the targets it named.
local function drop(prefix, route)
  local st = load(prefix .. 's:' .. route)
  local v = load(prefix .. 'r:' .. route)
  local idx = strs(st.i)
  local more = targets(links(v.p), links(v.q), {})
  for _, t in ipairs(more) do idx[#idx + 1] = t end
  for _, t in ipairs(idx) do redis.pcall('SREM', prefix .. 't:' .. t, route) end
  redis.call('DEL', prefix .. 'r:' .. route, prefix .. 's:' .. route)
  redis.call('ZREM', prefix .. 'routes', route)
  return idx
end
-- renew gives key (when it exists) a time to live of ttl once half of
-- it has gone, or when it has none.
local function renew(key, ttl)
  local left = redis.call('PTTL', key)
  if left ~= -2 and left < ttl / 2 then redis.call('PEXPIRE', key, ttl) end
end
-- validKey reports whether v is an identity key as nodes write it.
local function validKey(v)
  return type(v) == 'string' and #v >= 32 and string.match(v, '^%x+$') ~= nil
end
`

// observeScript applies one observation (see the hintstore package doc).
//
// KEYS: r:ROUTE, s:ROUTE, routes, stats, door, identity.
// ARGV: prefix, route, at (ms, the observation's time), wall (ms, the
// node's clock), ttl (ms), grace (ms), mode (pub|priv|vary), quorum,
// network, account, max routes, max waiting links, max links, payload
// (JSON: [[target,value]…] or [names]), identity key (hex) the requester
// was hashed with ("" when the node checks none).
// Returns {view JSON or "", expired ("0"|"1"), "t:"+target of each
// target whose set changed…, "r:"+route of each route evicted…}, or
// {"!identity", the fleet's key} when a private observation was hashed
// with another key than the fleet's (nothing is written).
//
// Waiting links remember the identity key their requesters were hashed
// with ("k" of s:ROUTE, its KeyID); counted under another key (the
// identity was lost and made anew), they start again, so one person is
// never two requesters.
var observeScript = rueidis.NewLuaScript(prelude + `
local prefix, route = ARGV[1], ARGV[2]
local now, wall, ttl, grace = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local mode, quorum = ARGV[7], tonumber(ARGV[8])
local req = {ARGV[9], ARGV[10]}
local maxRoutes, maxPending, maxLinks = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
local payload = cjson.decode(ARGV[14])
local keep = ttl + grace

-- Redis refuses a script that runs out of memory at its first write
-- only: once one went through, later ones do too, past maxmemory. So
-- the first write is one that may grow memory, and a full Redis
-- (noeviction) refuses the observation before anything changed.
redis.call('HINCRBY', KEYS[4], 'observations', 1)

local kid
if mode == 'priv' and ARGV[15] ~= '' then
  local cur = redis.pcall('GET', KEYS[6])
  if not validKey(cur) then
    -- Lost (a restart, an eviction) or spoilt: this node's key becomes
    -- the fleet's, and the others adopt it at their next check.
    redis.call('SET', KEYS[6], ARGV[15], 'PX', keep)
    cur = ARGV[15]
  elseif cur ~= ARGV[15] then
    return {'!identity', cur}
  else
    renew(KEYS[6], keep)
  end
  kid = string.sub(redis.sha1hex(cur), 1, 16)
end

local v, raw = load(KEYS[1])
local st, sraw = load(KEYS[2])
local existed = raw or sraw
local pub, prv, vary, pend, idx = links(v.p), links(v.q), strs(v.y), pending(st.w), strs(st.i)
local u, e = tonumber(v.u) or 0, tonumber(v.e) or 0
local k = st.k
if kid and k ~= kid then pend = {}; k = kid end
local function hinted() return #pub > 0 or #prv > 0 or #vary > 0 end

local expired = 0
if hinted() and now >= e then pub, prv, vary = {}, {}, {}; expired = 1 end
local live = {}
for _, p in ipairs(pend) do if p[3] + ttl > now then live[#live + 1] = p end end
pend = live

local refresh = true
if mode == 'vary' then
  vary = payload; pub, prv, pend = {}, {}, {}
elseif mode == 'priv' then
  vary = {}
  refresh = false
  for _, l in ipairs(payload) do
    if has(prv, l) then
      refresh = true
    elseif not has(pub, l) then
      local i
      for j, p in ipairs(pend) do if p[1] == l[1] and p[2] == l[2] then i = j; break end end
      if not i then
        -- Dropping the oldest keeps learning going when one requester
        -- floods the route with personal links.
        if #pend >= maxPending then table.remove(pend, 1) end
        pend[#pend + 1] = {l[1], l[2], now, {}}
        i = #pend
      end
      local p = pend[i]
      local who, dup = p[4], false
      for _, w in ipairs(who) do if not distinct(w, req) then dup = true; break end end
      if not dup then
        if #who + 1 < quorum then
          who[#who + 1] = req
          p[4] = who
        else
          table.remove(pend, i)
          if #prv >= maxLinks then table.remove(prv, 1) end
          prv[#prv + 1] = {l[1], l[2]}
          refresh = true
        end
      end
    end
  end
else
  vary, prv = {}, {}
  local d = {}
  for _, l in ipairs(payload) do
    if #d < maxLinks and not has(d, l) then d[#d + 1] = {l[1], l[2]} end
  end
  pub = d
end
if refresh then u, e = now, now + ttl end

if not existed then
  if not hinted() and #pend == 0 then return {'', tostring(expired)} end
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', wall)
  if redis.call('ZCARD', KEYS[3]) >= maxRoutes then
    -- Full: a new route gets in on its second observation only, so a
    -- flood of one-off routes cannot evict the routes seen often.
    if redis.call('SREM', KEYS[5], route) == 0 then
      if redis.call('SCARD', KEYS[5]) >= math.max(maxRoutes, 64) then redis.call('DEL', KEYS[5]) end
      redis.call('SADD', KEYS[5], route)
      redis.call('PEXPIRE', KEYS[5], ttl)
      return {'', tostring(expired)}
    end
  end
end

local ts, tset = targets(pub, prv, pend)
local changed = reindex(prefix, route, idx, ts, tset, ttl + grace)

local view, deadline = '', 0
if hinted() then
  view = cjson.encode({u = u, e = e, p = nonempty(pub), q = nonempty(prv), y = nonempty(vary)})
  deadline = e
  if view ~= raw then redis.call('SET', KEYS[1], view, 'PX', math.max(e - wall, 1) + grace) end
elseif raw then
  redis.call('DEL', KEYS[1])
end
if #pend > 0 then deadline = math.max(deadline, pend[#pend][3] + ttl) end
if #pend > 0 or #ts > 0 then
  if #pend == 0 then k = nil end
  redis.call('SET', KEYS[2], cjson.encode({w = nonempty(pend), i = nonempty(ts), k = k}), 'PX', math.max(deadline - wall, 1) + grace)
elseif sraw then
  redis.call('DEL', KEYS[2])
end
if hinted() or #pend > 0 then
  redis.call('ZADD', KEYS[3], deadline, route)
  -- The set outlives every route in it.
  redis.call('PEXPIRE', KEYS[3], keep)
else
  redis.call('ZREM', KEYS[3], route)
end

local evicted, gone = 0, {}
while redis.call('ZCARD', KEYS[3]) > maxRoutes do
  local low = redis.call('ZRANGE', KEYS[3], 0, 1)
  local victim = low[1]
  if victim == route then victim = low[2] end
  if not victim then break end
  for _, t in ipairs(drop(prefix, victim)) do changed[#changed + 1] = t end
  gone[#gone + 1] = victim
  evicted = evicted + 1
end
if evicted > 0 then redis.call('HINCRBY', KEYS[4], 'evictions', evicted) end
renew(KEYS[4], keep)
local out = {view, tostring(expired)}
for _, t in ipairs(changed) do out[#out + 1] = 't:' .. t end
for _, r in ipairs(gone) do out[#out + 1] = 'r:' .. r end
return out
`)

// forgetScript removes a target from every route that names it.
//
// KEYS: t:TARGET, routes. ARGV: prefix, target. Returns the routes it
// changed.
var forgetScript = rueidis.NewLuaScript(prelude + `
local prefix, target = ARGV[1], ARGV[2]
local function without(ls)
  local out = {}
  for _, l in ipairs(ls) do if l[1] ~= target then out[#out + 1] = l end end
  return out
end
local routes = members(KEYS[1])
for _, route in ipairs(routes) do
  local rk, sk = prefix .. 'r:' .. route, prefix .. 's:' .. route
  local v, raw = load(rk)
  local st, sraw = load(sk)
  local pub, prv, vary, pend = without(links(v.p)), without(links(v.q)), strs(v.y), without(pending(st.w))
  local idx = {}
  for _, t in ipairs(strs(st.i)) do if t ~= target then idx[#idx + 1] = t end end
  local hinted = #pub > 0 or #prv > 0 or #vary > 0
  if raw then
    if hinted then
      redis.call('SET', rk, cjson.encode({u = v.u, e = v.e, p = nonempty(pub), q = nonempty(prv), y = nonempty(vary)}), 'KEEPTTL')
    else
      redis.call('DEL', rk)
    end
  end
  if sraw then
    if #pend > 0 or #idx > 0 then
      local k
      if #pend > 0 then k = st.k end
      redis.call('SET', sk, cjson.encode({w = nonempty(pend), i = nonempty(idx), k = k}), 'KEEPTTL')
    else
      redis.call('DEL', sk)
    end
  end
  if not hinted and #pend == 0 then redis.call('ZREM', KEYS[2], route) end
end
redis.call('DEL', KEYS[1])
return routes
`)

// purgeScript removes one route. KEYS: r:ROUTE, s:ROUTE, routes.
// ARGV: prefix, route. Returns the targets the route named.
var purgeScript = rueidis.NewLuaScript(prelude + `
return drop(ARGV[1], ARGV[2])
`)

// identityScript checks the fleet's identity key, the check every node
// runs on a schedule and whenever Redis may have lost it: when the key is
// missing (or spoilt) the node's own becomes the fleet's; its time to
// live is renewed; the fleet's key is returned.
//
// KEYS: identity. ARGV: the node's key (hex), time to live (ms).
var identityScript = rueidis.NewLuaScript(prelude + `
local cur = redis.pcall('GET', KEYS[1])
if not validKey(cur) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
  return ARGV[1]
end
renew(KEYS[1], tonumber(ARGV[2]))
return cur
`)
