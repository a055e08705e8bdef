--[[
  Records the target's answer: the first answer wins. The same answer again
  within the retry grace is told apart (a retry whose first reply was lost).

  KEYS[1] recordKey     {p}q:<request>  hash
  ARGV[1] prefix
  ARGV[2] requestHash
  ARGV[3] sealedAnswer  the package name, sealed for `layout`
  ARGV[4] layout        the record layout the answer was sealed for
  ARGV[5] retryGraceMs

  Returns {'accepted'}
        | {'unknown'}                              unknown, expired, or answered before the grace
        | {'answered', sealedAnswer, layout}       answered within the grace: the caller compares
        | {'reseal', layout}                       the record has another layout: seal for it and
                                                   call again (nothing written)
]]
local recordKey = KEYS[1]
local prefix = ARGV[1]
local requestHash = ARGV[2]
local sealedAnswer = ARGV[3]
local layout = ARGV[4]
local retryGraceMs = tonumber(ARGV[5])

--- @include "time"

local record = redis.call('HMGET', recordKey, 'st', 'v', 't', 'd', 'a', 'w')
local state, recordLayout, targetHash, pairHash, answer, answeredAt =
  record[1], record[2] or '1', record[3], record[4], record[5], record[6]

if not state then return {'unknown'} end
local now = nowMs()
if state ~= 'p' then
  if answer and answeredAt and now - tonumber(answeredAt) < retryGraceMs then
    return {'answered', answer, recordLayout}
  end
  return {'unknown'}
end
if recordLayout ~= layout then return {'reseal', recordLayout} end

redis.call('HSET', recordKey, 'st', 'c', 'a', sealedAnswer, 'w', now)
if targetHash then redis.call('ZREM', prefix .. 't:' .. targetHash, requestHash) end
if pairHash and redis.call('GET', prefix .. 'd:' .. pairHash) == requestHash then
  redis.call('DEL', prefix .. 'd:' .. pairHash)
end
redis.call('PUBLISH', prefix .. 'wake', requestHash)
return {'accepted'}
