-- One token-bucket decision, atomically, on the Redis server's clock.
--
-- KEYS[1]  the bucket (a hash: tokens, carry, last)
-- ARGV[1]  capacity in micro-tokens (1e-6 token)
-- ARGV[2]  refill rate in micro-tokens per second (= 1e-12 tokens per microsecond)
-- ARGV[3]  cost in micro-tokens
-- Returns {allowed (1/0), tokens left in micro-tokens, carry in 1e-12 tokens}.
--
-- Everything is an integer: time in microseconds from TIME, tokens in micro-tokens,
-- and `carry`, the part of a micro-token refilled but not yet whole, kept across
-- calls so that no refill is ever rounded away. Products stay below 2^53; numbers
-- are written with %.0f because Lua's default formatting keeps only 14 digits.
-- Semantics are the pure core's: the bucket starts full, refill = elapsed * rate
-- capped at capacity, allowed iff tokens >= cost. A clock that steps back (a new
-- master after failover) refills nothing. A full bucket is the same as no key, so
-- the key expires (PEXPIRE) when the bucket would be full again.

local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local MICRO = 1000000

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * MICRO + tonumber(clock[2])

local state = redis.call('HMGET', KEYS[1], 'tokens', 'carry', 'last')
local tokens = tonumber(state[1])
local carry = tonumber(state[2]) or 0
local last = tonumber(state[3]) or now
if tokens == nil or tokens >= capacity then
  tokens, carry = capacity, 0
end

local elapsed = now - last
if elapsed > 0 and rate > 0 and tokens < capacity then
  local seconds = math.floor(elapsed / MICRO)
  if seconds > (capacity - tokens) / rate + 1 then
    tokens, carry = capacity, 0
  else
    local micros = elapsed - seconds * MICRO
    local whole_rate = math.floor(rate / MICRO)
    local part = micros * (rate - whole_rate * MICRO) + carry
    local whole_part = math.floor(part / MICRO)
    carry = part - whole_part * MICRO
    tokens = tokens + seconds * rate + micros * whole_rate + whole_part
    if tokens >= capacity then
      tokens, carry = capacity, 0
    end
  end
end

local allowed = 0
if tokens >= cost then
  allowed = 1
  tokens = tokens - cost
end

if tokens >= capacity then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.0f', tokens),
    'carry', string.format('%.0f', carry), 'last', string.format('%.0f', now))
  if rate > 0 then
    local missing = (capacity - tokens) * MICRO - carry
    -- %.0f again: up to 10^18 ms at the limits, which Lua would write as 1e+18.
    redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.ceil(missing / rate / 1000) + 1))
  else
    redis.call('PERSIST', KEYS[1])
  end
end
return {allowed, tokens, carry}
