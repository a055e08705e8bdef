import { MemoryTaskStore } from '../../src/store/memory-task-store.js'
import { Wakeups } from '../../src/store/wakeups.js'
import { storeConformance } from './conformance.js'

storeConformance('memory', async (limits) => new MemoryTaskStore({ ...limits, wakeups: new Wakeups(limits) }))
