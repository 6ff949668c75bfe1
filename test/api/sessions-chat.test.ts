// How chat turns interact with the /sessions API's own operations: a session created through
// POST /sessions is titled by its first turn, a rename before it wins, a blank first message leaves the
// title to the next turn, and a cleared session's next turn goes to the engine without history.
// (Turn storage, streaming and history in depth: test/sessions/chat-sessions.test.ts.)
import { afterEach, expect, test } from 'bun:test'
import type OpenAI from 'openai'
import { startFakeEngine } from '../helpers/fake-engine'
import { readJson } from '../helpers/http'
import { chatTurn, Gateways } from '../helpers/sessions-api'

const gateways = new Gateways()
afterEach(() => gateways.cleanup())

const titleOf = async (res: Response): Promise<string> => (await readJson(res)).metadata.title

test('a session created through POST /sessions without a title is titled by its first user message', async () => {
  const { gw, api } = await gateways.start()
  await api.create({ session_id: 'auto' })
  await chatTurn(gw, 'auto', 'How do I tune SQLite?')
  expect(await titleOf(await api.get('auto'))).toBe('How do I tune SQLite?')
  expect((await readJson(await api.list())).sessions[0]).toMatchObject({ id: 'auto', title: 'How do I tune SQLite?', message_count: 2 })
})

test('the auto-title reads the text of content parts', async () => {
  const { gw, api } = await gateways.start()
  await chatTurn(gw, 'parts', [{ type: 'text', text: 'Describe parts' }])
  expect(await titleOf(await api.get('parts'))).toBe('Describe parts')
})

test('a first user message with no text leaves "New Chat", and the next turn titles the session', async () => {
  const { gw, api } = await gateways.start()
  await chatTurn(gw, 'blank', '  \n \n')
  expect(await titleOf(await api.get('blank'))).toBe('New Chat')
  await chatTurn(gw, 'blank', 'Now with words')
  expect(await titleOf(await api.get('blank'))).toBe('Now with words')
})

test('a session renamed before its first turn keeps the new title', async () => {
  const { gw, api } = await gateways.start()
  await api.create({ session_id: 'renamed' })
  await api.rename('renamed', 'Chosen name')
  await chatTurn(gw, 'renamed', 'Not the title')
  expect(await titleOf(await api.get('renamed'))).toBe('Chosen name')
})

test('a session renamed after its first turn keeps the new title through later turns', async () => {
  const { gw, api } = await gateways.start()
  await chatTurn(gw, 'later', 'Auto title')
  await api.rename('later', 'Manual title')
  await chatTurn(gw, 'later', 'Another question')
  expect(await titleOf(await api.get('later'))).toBe('Manual title')
})

test('a cleared session starts its next turn without history', async () => {
  const engine = await startFakeEngine({ models: ['fake-model'] })
  gateways.defer(() => engine.stop())
  const { gw, api } = await gateways.start(['--engine', engine.url])
  const ask = (content: string) =>
    gw.openai().chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content }], session_id: 'wipe' } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming)
  await ask('before')
  await api.clear('wipe')
  await ask('after')
  expect(engine.inference().at(-1)!.body.messages).toEqual([{ role: 'user', content: 'after' }])
  expect((await readJson(await api.get('wipe'))).messages).toHaveLength(2)
})

test('an imported session titled "New Chat" is titled by its next turn; one with a real title is not', async () => {
  const { gw, api } = await gateways.start()
  await api.import([
    { id: 'default', metadata: { title: 'New Chat' } },
    { id: 'titled', metadata: { title: 'Imported title' } },
  ])
  await chatTurn(gw, 'default', 'Title from the turn')
  await chatTurn(gw, 'titled', 'Not used')
  expect(await titleOf(await api.get('default'))).toBe('Title from the turn')
  expect(await titleOf(await api.get('titled'))).toBe('Imported title')
})
