/**
 * What a poll handed on by the fast path carries to the routes
 * (src/fast-path/handed-on.ts): its tasks reach only the route of its own kind
 * of poll. The tasks a hand-on gives end-to-end are in task-polls.test.ts.
 */
import { IncomingMessage } from 'node:http'
import { Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { handedOnSigned, handedOnTasks, markHandedOn } from '../../src/fast-path/handed-on.js'
import type { Task } from '../../src/store/task-store.js'

describe('a handed-on poll', () => {
  it("gives its tasks to the route of its own kind of poll only: a v1 poll's ids are no v2 tasks", () => {
    const v1 = new IncomingMessage(new Socket())
    markHandedOn(v1, { error: undefined, found: { poll: 'v1', tasks: ['r-1'] }, start: 0, caller: undefined, signed: true })
    expect(handedOnTasks(v1, 'v1')).toEqual(['r-1'])
    expect(handedOnTasks(v1, 'v2')).toBeUndefined()
    const v2 = new IncomingMessage(new Socket())
    const task: Task = { requestId: 'r-2', requesterId: 7, verified: true, expiresInMs: 1000 }
    markHandedOn(v2, { error: undefined, found: { poll: 'v2', tasks: [task] }, start: 0, caller: undefined, signed: false })
    expect(handedOnTasks(v2, 'v2')).toEqual([task])
    expect(handedOnTasks(v2, 'v1')).toBeUndefined()
    expect(handedOnTasks(new IncomingMessage(new Socket()), 'v1')).toBeUndefined()
  })

  it('counts as signed only where the fast path said it checked a v1 signature', () => {
    const v1 = new IncomingMessage(new Socket())
    markHandedOn(v1, { error: undefined, found: { poll: 'v1', tasks: [] }, start: 0, caller: undefined, signed: true })
    expect(handedOnSigned(v1)).toBe(true)
    // Not inferred from the absence of a v2 session.
    const unsigned = new IncomingMessage(new Socket())
    markHandedOn(unsigned, { error: new Error('x'), found: undefined, start: 0, caller: undefined, signed: false })
    expect(handedOnSigned(unsigned)).toBe(false)
    expect(handedOnSigned(new IncomingMessage(new Socket()))).toBe(false)
  })
})
