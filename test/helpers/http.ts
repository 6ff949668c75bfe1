// Response bodies in tests: assertions inspect them freely, so they are typed loosely here only.
export const readJson = (res: Response): Promise<any> => res.json() as Promise<any>
