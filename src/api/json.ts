/** Values that survive JSON and structured clone unchanged: split, state and commit-info types are made of these. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };
