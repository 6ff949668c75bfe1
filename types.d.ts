// Text imports of SQL migrations (`import sql from '../migrations/0001_x.sql' with { type: 'text' }`).
declare module '*.sql' {
  const text: string
  export default text
}
