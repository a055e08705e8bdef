/**
 * The SDK's wait for other work that an AbortSignal cuts short
 * (packages/sdk/src/backoff.ts): what a caller gets, and what happens to the
 * work it stopped waiting for.
 */
import { getEventListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { untilAborted } from '../../packages/sdk/src/backoff.js'

/** A promise and the means to settle it later. */
function pending<T> (): { promise: Promise<T>, resolve: (value: T) => void, reject: (error: Error) => void } {
  let resolve!: (value: T) => void
  let reject!: (error: Error) => void
  const promise = new Promise<T>((yes, no) => { resolve = yes; reject = no })
  return { promise, resolve, reject }
}

describe('untilAborted', () => {
  const unhandled: unknown[] = []
  const count = (reason: unknown): void => { unhandled.push(reason) }
  beforeEach(() => { unhandled.length = 0; process.on('unhandledRejection', count) })
  afterEach(() => { process.off('unhandledRejection', count) })

  it('gives the work\'s value or error, with or without a signal, and leaves no listener behind', async () => {
    expect(await untilAborted(Promise.resolve(1), undefined)).toBe(1)
    const signal = new AbortController().signal
    expect(await untilAborted(Promise.resolve(2), signal)).toBe(2)
    await expect(untilAborted(Promise.reject(new Error('failed')), signal)).rejects.toThrow('failed')
    expect(getEventListeners(signal, 'abort')).toHaveLength(0)
  })

  it('ends with the abort reason as soon as the signal aborts; the work failing later is handled', async () => {
    const controller = new AbortController()
    const work = pending<number>()
    const waiting = untilAborted(work.promise, controller.signal)
    controller.abort(new Error('stop'))
    await expect(waiting).rejects.toThrow('stop')
    work.reject(new Error('late failure'))
    await sleep(20)
    expect(unhandled).toEqual([])
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })

  it('with a signal aborted already, throws its reason at once; the work failing later is handled', async () => {
    const controller = new AbortController()
    controller.abort(new Error('too late'))
    const work = pending<number>()
    await expect(untilAborted(work.promise, controller.signal)).rejects.toThrow('too late')
    work.reject(new Error('failure nobody waits for'))
    await sleep(20)
    expect(unhandled).toEqual([])
  })
})
