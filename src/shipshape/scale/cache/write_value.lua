-- Store one variant of a cached value and (re)arm the key's expiry.
-- KEYS[1] value key (a hash: variant -> encoded value); ARGV[1] variant;
-- ARGV[2] encoded value; ARGV[3] lifetime in milliseconds.
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
