import { MemoryTaskStore } from '../../src/store/memory-task-store.js'
import { storeConformance } from './conformance.js'

storeConformance('memory', async (limits, listener) => {
  const store = new MemoryTaskStore({ ...limits, listener })
  return { store, counted: async () => store.size() }
})
