--[[
  Records the target's answer: the first answer wins. The same answer again
  within the retry grace is told apart (a retry whose first reply was lost).
  Through v1, a sealed request, and any question about a user signed in
  through v2, are unknown; through v2, only the request's target may answer,
  sealed to a sealed request and plain to a plain one.

  KEYS[1] recordKey     {p}q:<request>  hash
  ARGV[1] prefix
  ARGV[2] requestHash
  ARGV[3] callerHash    the v2 caller's target hash; '' for a v1 submit
  ARGV[4] kind          'plain' | 'sealed' | 'declined'
  ARGV[5] sealedAnswer  the answer, sealed for `layout`; '' for a decline
  ARGV[6] layout        the record layout the answer was sealed for
  ARGV[7] retryGraceMs

  Returns {'accepted'}
        | {'unknown'}                      unknown, expired, not the caller's to answer, or answered
                                           before the grace
        | {'mismatch'}                     the caller's, but sealed and plain do not match
        | {'answered', sealedAnswer or '', kind, verified ('1' | '0'), layout}
                                           answered within the grace: the caller compares
        | {'reseal', layout}               the record binds its answer otherwise: seal for this
                                           layout and call again (nothing written)
]]
local recordKey = KEYS[1]
local prefix = ARGV[1]
local requestHash = ARGV[2]
local callerHash = ARGV[3]
local kind = ARGV[4]
local sealedAnswer = ARGV[5]
local layout = ARGV[6]
local retryGraceMs = tonumber(ARGV[7])

--- @include "time"

local record = redis.call('HMGET', recordKey, 'st', 'v', 't', 'd', 'a', 'w', 'pk', 'ak', 'av')
local state, recordLayout, targetHash, pairHash, answer, answeredAt, publicKey, answerKind, answerVerified =
  record[1], record[2] or '1', record[3], record[4], record[5], record[6], record[7], record[8], record[9]

if not state then return {'unknown'} end
if callerHash == '' then
  if publicKey then return {'unknown'} end
  if targetHash and redis.call('EXISTS', prefix .. 's:' .. targetHash) == 1 then return {'unknown'} end
else
  if targetHash ~= callerHash then return {'unknown'} end
  if kind ~= 'declined' and (kind == 'sealed') ~= (publicKey and true or false) then return {'mismatch'} end
end

local now = nowMs()
if state ~= 'p' then
  if answeredAt and now - tonumber(answeredAt) < retryGraceMs then
    return {'answered', answer or '', answerKind or 'plain', answerVerified or '0', recordLayout}
  end
  return {'unknown'}
end
-- The first layout bound an answer to its record alone; every later one to its record and field.
if (recordLayout == '1') ~= (layout == '1') then return {'reseal', recordLayout} end

local fields = {'st', 'c', 'w', now}
local function field (name, value) fields[#fields + 1] = name; fields[#fields + 1] = value end
if sealedAnswer ~= '' then field('a', sealedAnswer) end
if kind ~= 'plain' then field('ak', kind) end
if callerHash ~= '' then field('av', '1') end
redis.call('HSET', recordKey, unpack(fields))
if targetHash then
  redis.call('ZREM', prefix .. 't:' .. targetHash, requestHash)
  redis.call('ZREM', prefix .. 'u:' .. targetHash, requestHash)
end
if pairHash and redis.call('GET', prefix .. 'd:' .. pairHash) == requestHash then
  redis.call('DEL', prefix .. 'd:' .. pairHash)
end
redis.call('PUBLISH', prefix .. 'wake', requestHash)
return {'accepted'}
