/**
 * What Redis itself did during a measured window: commands by name (INFO
 * commandstats: calls and Redis-side microseconds, commands run inside Lua
 * scripts counted too, under their own names), and the Redis server's CPU
 * (INFO cpu). Counted over the whole Redis: it assumes nobody else uses it
 * meanwhile (other clients are counted and reported, so a noisy window shows).
 */
import { cpuMicros } from './processes.js'

/** The part of a node-redis client this needs. */
export interface InfoClient {
  info: (section?: string) => Promise<string>
}

export interface RedisSnapshot {
  commands: Record<string, { calls: number, usec: number }>
  /** Redis server CPU (user + system of its main process), microseconds. */
  cpuUs: number
  connectedClients: number
}

export function parseCommandStats (text: string): Record<string, { calls: number, usec: number }> {
  const out: Record<string, { calls: number, usec: number }> = {}
  for (const line of text.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line)
    if (m !== null) out[(m[1] as string).toUpperCase()] = { calls: Number(m[2]), usec: Number(m[3]) }
  }
  return out
}

export function infoField (text: string, field: string): number | undefined {
  const m = new RegExp(`^${field}:([0-9.]+)`, 'm').exec(text)
  return m === null ? undefined : Number(m[1])
}

export async function redisSnapshot (client: InfoClient): Promise<RedisSnapshot> {
  const [stats, cpu, clients, server] = await Promise.all([client.info('commandstats'), client.info('cpu'), client.info('clients'), client.info('server')])
  // /proc of the Redis process when it runs here (finer than INFO cpu's rounding); else INFO cpu.
  const pid = infoField(server, 'process_id')
  let cpuUs: number
  try {
    cpuUs = cpuMicros(pid as number)
  } catch {
    cpuUs = ((infoField(cpu, 'used_cpu_user') ?? 0) + (infoField(cpu, 'used_cpu_sys') ?? 0)) * 1e6
  }
  return { commands: parseCommandStats(stats), cpuUs, connectedClients: infoField(clients, 'connected_clients') ?? 0 }
}

export interface RedisUse {
  /** Every command Redis ran, per unit (a resolution, a poll), those inside scripts included. */
  commandsPerUnit: number
  /** Scripts run (EVALSHA, EVAL, FCALL and their _RO forms) per unit: a lower bound of round trips. */
  scriptsPerUnit: number
  /** Redis-side microseconds (commandstats usec; a script's includes its inner commands' too, so only the scripts and plain commands are summed). */
  byCommand: Record<string, { calls: number, perUnit: number, usecPerUnit: number }>
  /** Redis server CPU per unit, microseconds. */
  redisCpuUsPerUnit: number
  units: number
  /** Clients connected at the end (ours: two per instance, and this harness's). */
  connectedClients: number
}

const SCRIPTS = new Set(['EVALSHA', 'EVAL', 'EVALSHA_RO', 'EVAL_RO', 'FCALL', 'FCALL_RO'])
/** Ours, not the servers': the harness reads these around each window. */
const OURS = new Set(['INFO'])

export function redisUse (before: RedisSnapshot, after: RedisSnapshot, units: number): RedisUse {
  const byCommand: RedisUse['byCommand'] = {}
  let commands = 0
  let scripts = 0
  for (const [name, now] of Object.entries(after.commands)) {
    if (OURS.has(name)) continue
    const was = before.commands[name] ?? { calls: 0, usec: 0 }
    const calls = now.calls - was.calls
    if (calls <= 0) continue
    commands += calls
    if (SCRIPTS.has(name)) scripts += calls
    byCommand[name] = { calls, perUnit: round3(calls / units), usecPerUnit: round3((now.usec - was.usec) / units) }
  }
  return {
    commandsPerUnit: round3(commands / units),
    scriptsPerUnit: round3(scripts / units),
    byCommand: Object.fromEntries(Object.entries(byCommand).sort((a, b) => b[1].calls - a[1].calls)),
    redisCpuUsPerUnit: round3((after.cpuUs - before.cpuUs) / units),
    units,
    connectedClients: after.connectedClients
  }
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000
