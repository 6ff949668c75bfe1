// Image blocks: base64 and URL sources reach the engine as OpenAI image_url parts, in the user
// message's order beside its text; an image source the engines cannot take is a 400 naming the block.
import type Anthropic from '@anthropic-ai/sdk'
import { BadRequestError } from '@anthropic-ai/sdk'
import { expect, test } from 'bun:test'
import { expectAnthropicError, onlyChatRequest, rejectionOf, sharedGateway } from '../../helpers/anthropic'
import { type FakeEngine } from '../../helpers/fake-engine'
import { postJson, type TestGateway } from '../../helpers/gateway'

let engine: FakeEngine
let gw: TestGateway
let client: Anthropic
sharedGateway((shared) => ({ engine, gw, client } = shared))

// A 1×1 transparent PNG.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII='
const base64Image: Anthropic.ImageBlockParam = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } }
const urlImage: Anthropic.ImageBlockParam = { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } }
const withContent = (content: Anthropic.ContentBlockParam[]) => ({ model: 'm', max_tokens: 64, messages: [{ role: 'user' as const, content }] })

test('a base64 image becomes an image_url part holding a data URL', async () => {
  await client.messages.create(withContent([base64Image, { type: 'text', text: 'What is this?' }]))
  expect(onlyChatRequest(engine).body.messages).toEqual([
    {
      role: 'user',
      content: [
        { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
        { type: 'text', text: 'What is this?' },
      ],
    },
  ])
})

test('a URL image becomes an image_url part holding the URL', async () => {
  await client.messages.create(withContent([{ type: 'text', text: 'Describe:' }, urlImage]))
  expect(onlyChatRequest(engine).body.messages[0].content).toEqual([
    { type: 'text', text: 'Describe:' },
    { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
  ])
})

test('several images keep their order among the text parts', async () => {
  const msg = await client.messages.create(withContent([{ type: 'text', text: 'Compare' }, base64Image, urlImage, { type: 'text', text: 'please' }]))
  expect(onlyChatRequest(engine).body.messages[0].content.map((p: { type: string }) => p.type)).toEqual(['text', 'image_url', 'image_url', 'text'])
  expect(msg.stop_reason).toBe('end_turn')
})

test('a streamed request with an image reaches the engine with its image_url part', async () => {
  await client.messages.stream(withContent([urlImage, { type: 'text', text: 'Caption it' }])).done()
  const content = onlyChatRequest(engine).body.messages[0].content
  expect(content[0]).toEqual({ type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } })
})

test('an image source of type file is a 400 naming the block, through the SDK and on the wire', async () => {
  const bad = { type: 'image', source: { type: 'file', file_id: 'file_123' } } as unknown as Anthropic.ImageBlockParam
  const error = await rejectionOf(client.messages.create(withContent([bad])))
  expect(error).toBeInstanceOf(BadRequestError)
  expect((error as BadRequestError).type).toBe('invalid_request_error')
  const message = await expectAnthropicError(await postJson(gw, '/v1/messages', withContent([bad])), 400, 'invalid_request_error')
  expect(message).toContain('messages[0].content[0].source')
  expect(engine.inference()).toEqual([])
})
