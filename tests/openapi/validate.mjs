#!/usr/bin/env node
// validate.mjs: check doc/openapi.yaml, and jobd's recorded answers against it.
//
//   node validate.mjs DOC [RECORDING.jsonl ...] [--coverage FILE]
//
// (a) DOC must be a valid OpenAPI document (the official JSON schema of its
//     version, via @seriousme/openapi-schema-validator), every $ref must
//     resolve, every schema must compile under Ajv's strict mode (so a
//     misspelt keyword is an error, not an ignored annotation), and each
//     operation must be complete (operationId, summary, responses, path
//     parameters declared).
// (b) Each line of a recording is one exchange
//     {"method", "path", "status", "headers", "body"?, "body_len"?,
//     "request_body"?} as written by tests/integration/jobdtest.py when
//     JOBD_RECORD is set.  Its path is
//     matched against the templates (a path parameter must satisfy its
//     schema), and its answer must be documented for that operation and
//     status: required headers present and valid, the media type one of the
//     documented ones, a JSON body valid against the schema.  A request that
//     matches no operation is checked against the document's
//     x-unmatched-requests (404 for an unknown path, 405 with Allow for a
//     method the path does not have).  A request body that jobd accepted
//     (2xx) must be valid against the operation's request schema: the
//     document may not refuse what jobd takes.
//
// Prints one line per failure and exits 1 if there was any; else prints a
// summary line and exits 0.  --coverage FILE writes the (method, template,
// status) triples seen, as JSON, for the caller to check.
import { readFileSync, writeFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { parse as parseYaml } from "yaml";

const addFormats = addFormatsModule.default ?? addFormatsModule;
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const SCHEMAS_ID = "https://jobd.invalid/openapi/schemas.json";
const INT64_MAX = 9223372036854775807n;

const failures = [];
function fail(msg) {
	failures.push(msg);
	console.log("FAIL " + msg);
}

// ---- the document ---------------------------------------------------------

function resolvePointer(doc, ref) {
	if (!ref.startsWith("#/"))
		throw new Error(`only local references are used here: ${ref}`);
	let node = doc;
	for (const raw of ref.slice(2).split("/")) {
		const part = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
		if (node === null || typeof node !== "object" || !(part in node))
			throw new Error(`unresolved $ref ${ref}`);
		node = node[part];
	}
	return node;
}

// Follow a $ref chain for non-schema objects (responses, parameters, headers).
function deref(doc, obj) {
	let seen = 0;
	while (obj && typeof obj === "object" && typeof obj.$ref === "string") {
		if (++seen > 20)
			throw new Error(`$ref loop at ${obj.$ref}`);
		obj = resolvePointer(doc, obj.$ref);
	}
	return obj;
}

// Every "#/components/schemas/X" becomes a reference into one Ajv schema.
// A discriminator's mapping is for code generators; Ajv finds the branch by
// the branches' const values instead (checked against the mapping below).
function rewriteRefs(node) {
	if (Array.isArray(node))
		return node.map(rewriteRefs);
	if (node === null || typeof node !== "object")
		return node;
	const out = {};
	for (const [k, v] of Object.entries(node)) {
		if (k === "$ref" && typeof v === "string" && v.startsWith("#/components/schemas/"))
			out[k] = SCHEMAS_ID + "#/$defs/" + v.slice("#/components/schemas/".length);
		else if (k === "discriminator" && v && typeof v === "object" && !Array.isArray(v))
			out[k] = { propertyName: v.propertyName };
		else
			out[k] = rewriteRefs(v);
	}
	return out;
}

// Each mapping entry must name the oneOf branch whose const is that value.
function checkDiscriminators(doc, docPath) {
	for (const [name, s] of Object.entries(doc.components?.schemas ?? {})) {
		const d = s.discriminator;
		if (!d)
			continue;
		for (const [value, ref] of Object.entries(d.mapping ?? {})) {
			const branch = (s.oneOf ?? []).find((b) => b.$ref === ref);
			const target = branch ? resolvePointer(doc, ref) : null;
			if (target?.properties?.[d.propertyName]?.const !== value)
				fail(`${docPath}: ${name}: discriminator mapping ${value} -> ${ref} is not the oneOf branch with ${d.propertyName} = ${value}`);
		}
	}
}

function collectRefs(node, out = []) {
	if (Array.isArray(node))
		node.forEach((n) => collectRefs(n, out));
	else if (node !== null && typeof node === "object")
		for (const [k, v] of Object.entries(node)) {
			if (k === "$ref" && typeof v === "string")
				out.push(v);
			else
				collectRefs(v, out);
		}
	return out;
}

function makeAjv(doc) {
	const ajv = new Ajv2020({
		strict: true,
		strictTypes: false,     // the error schemas narrow "code" without repeating "type"
		strictTuples: false,
		strictRequired: false,
		allErrors: true,
		discriminator: true,
	});
	addFormats(ajv);
	// The OpenAPI 3.1 dialect's own keywords, and its formats.
	ajv.addVocabulary(["example", "externalDocs", "xml"]);
	ajv.addFormat("int32", { type: "number", validate: (n) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
	ajv.addFormat("int64", { type: "number", validate: (n) => Number.isInteger(n) });
	ajv.addFormat("float", { type: "number", validate: () => true });
	ajv.addFormat("double", { type: "number", validate: () => true });
	ajv.addFormat("password", () => true);
	ajv.addFormat("byte", /^[A-Za-z0-9+/]*={0,2}$/);
	ajv.addFormat("binary", () => true);
	const defs = rewriteRefs(doc.components?.schemas ?? {});
	ajv.addSchema({ $id: SCHEMAS_ID, $defs: defs });
	return ajv;
}

async function checkDocument(docPath) {
	try {
		parseYaml(readFileSync(docPath, "utf8"));
	} catch (e) {
		fail(`${docPath}: cannot be read as YAML: ${e.message.split("\n")[0]}`);
		return null;
	}
	const v = new Validator({ strict: false });
	const res = await v.validate(docPath);
	if (!res.valid) {
		for (const e of [].concat(res.errors ?? []))
			fail(`${docPath}: not valid OpenAPI: ${e.instancePath ?? ""} ${e.message ?? JSON.stringify(e)}` +
			    (e.params ? " " + JSON.stringify(e.params) : ""));
		return null;
	}
	const doc = parseYaml(readFileSync(docPath, "utf8"));
	if (!String(doc.openapi).startsWith("3.1"))
		fail(`${docPath}: this checker expects OpenAPI 3.1 (JSON Schema 2020-12), found ${doc.openapi}`);

	for (const ref of collectRefs(doc)) {
		try {
			resolvePointer(doc, ref);
		} catch (e) {
			fail(`${docPath}: ${e.message}`);
		}
	}

	checkDiscriminators(doc, docPath);
	let ajv;
	try {
		ajv = makeAjv(doc);
		for (const name of Object.keys(doc.components?.schemas ?? {}))
			ajv.getSchema(`${SCHEMAS_ID}#/$defs/${name}`) ??
			    fail(`${docPath}: schema ${name} does not compile`);
	} catch (e) {
		fail(`${docPath}: a schema does not compile under Ajv strict mode: ${e.message}`);
		return null;
	}

	const opIds = new Set();
	for (const [template, item] of Object.entries(doc.paths ?? {})) {
		const names = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
		for (const m of METHODS) {
			const op = item[m];
			if (op === undefined)
				continue;
			const where = `${m.toUpperCase()} ${template}`;
			if (!op.operationId)
				fail(`${docPath}: ${where} has no operationId`);
			else if (opIds.has(op.operationId))
				fail(`${docPath}: ${where}: operationId ${op.operationId} is used twice`);
			opIds.add(op.operationId);
			if (!op.summary || !op.description)
				fail(`${docPath}: ${where} needs a summary and a description`);
			const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p) => deref(doc, p));
			for (const n of names)
				if (!params.some((p) => p.in === "path" && p.name === n && p.required === true))
					fail(`${docPath}: ${where}: path parameter {${n}} is not declared (required, in: path)`);
			for (const [status, r] of Object.entries(op.responses ?? {})) {
				const resp = deref(doc, r);
				if (!resp.description)
					fail(`${docPath}: ${where} ${status}: no description`);
				if (/^[45]/.test(status) && !resp.content?.["application/json"]?.schema)
					fail(`${docPath}: ${where} ${status}: an error answer needs a JSON schema`);
				if (status !== "204" && !resp.content)
					fail(`${docPath}: ${where} ${status}: no content`);
			}
			if (!op.responses || Object.keys(op.responses).length === 0)
				fail(`${docPath}: ${where} has no responses`);
		}
	}
	if (!doc["x-unmatched-requests"]?.responses?.["404"] || !doc["x-unmatched-requests"]?.responses?.["405"])
		fail(`${docPath}: x-unmatched-requests must document 404 and 405`);
	return { doc, ajv };
}

// ---- recorded exchanges ---------------------------------------------------

function paramOk(doc, param, raw) {
	const schema = deref(doc, param.schema ?? {});
	const s = schema.$ref ? resolvePointer(doc, schema.$ref) : schema;
	let value;
	try {
		value = decodeURIComponent(raw);
	} catch {
		return false;
	}
	if (s.type === "integer") {
		// A plain decimal number, as jobd reads ids: no sign, no leading zero.
		if (!/^(0|[1-9][0-9]*)$/.test(value) || BigInt(value) > INT64_MAX)
			return false;
		return s.minimum === undefined || BigInt(value) >= BigInt(s.minimum);
	}
	return true;
}

// The path item whose template matches path (each path parameter valid):
// {template, item}, or {} when none does.
function findRoute(doc, path) {
	for (const [template, item] of Object.entries(doc.paths)) {
		const names = [];
		const re = new RegExp("^" + template.replace(/[.*+?^$()|[\]\\]/g, "\\$&")
		    .replace(/\{([^}]+)\}/g, (_, n) => { names.push(n); return "([^/]+)"; }) + "$");
		const m = re.exec(path);
		if (!m)
			continue;
		const params = (item.parameters ?? []).map((p) => deref(doc, p));
		const ok = names.every((n, i) => {
			const p = params.find((q) => q.in === "path" && q.name === n);
			return p === undefined || paramOk(doc, p, m[i + 1]);
		});
		if (ok)
			return { template, item };
	}
	return {};
}

const validators = new Map();
function schemaValidator(ajv, key, schema) {
	if (!validators.has(key))
		validators.set(key, ajv.compile(rewriteRefs(schema)));
	return validators.get(key);
}

function fmtErrors(errors) {
	return (errors ?? []).slice(0, 8).map((e) =>
	    `${e.instancePath || "/"} ${e.message}${e.params && Object.keys(e.params).length ? " " + JSON.stringify(e.params) : ""}`).join("; ");
}

function checkResponse(ctx, where, resp, ex) {
	const { doc, ajv } = ctx;
	const headers = Object.fromEntries(Object.entries(ex.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
	for (const [name, h0] of Object.entries(resp.headers ?? {})) {
		const h = deref(doc, h0);
		const value = headers[name.toLowerCase()];
		if (value === undefined) {
			if (h.required)
				fail(`${where}: header ${name} missing`);
			continue;
		}
		if (h.schema) {
			const v = schemaValidator(ajv, `${where}|header|${name}`, h.schema);
			if (!v(value))
				fail(`${where}: header ${name}: ${JSON.stringify(value)}: ${fmtErrors(v.errors)}`);
		}
	}
	// HEAD: GET's status and headers, and no body to check.
	if (String(ex.method).toUpperCase() === "HEAD")
		return;
	const content = resp.content;
	if (!content) {
		if (ex.body !== undefined || (ex.body_len ?? 0) > 0)
			fail(`${where}: a body was sent where none is documented`);
		return;
	}
	const ctype = (headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
	const media = content[ctype];
	if (media === undefined) {
		fail(`${where}: Content-Type ${JSON.stringify(headers["content-type"])} is not one of ${Object.keys(content).join(", ")}`);
		return;
	}
	if (ctype !== "application/json")
		return;
	if (ex.body_error !== undefined) {
		fail(`${where}: the body is not valid JSON: ${ex.body_error}`);
		return;
	}
	if (!media.schema)
		return;
	const v = schemaValidator(ajv, `${where}|body|${ctype}`, media.schema);
	if (!v(ex.body))
		fail(`${where}: body does not match the schema: ${fmtErrors(v.errors)}; body: ${JSON.stringify(ex.body).slice(0, 600)}`);
}

function checkExchange(ctx, ex, label) {
	const { doc } = ctx;
	const method = String(ex.method).toLowerCase();
	// Decoded as jobd decodes a path: every escape but %00 and %2F.
	const path = String(ex.path).split("?")[0].replace(/%([0-9A-Fa-f]{2})/g,
	    (m, h) => (h === "00" || h.toLowerCase() === "2f") ? m : String.fromCharCode(parseInt(h, 16)));
	const status = String(ex.status);
	const { template, item } = findRoute(doc, path);
	// The document's conventions: a GET answers HEAD too.
	const op = item?.[method] ?? (method === "head" ? item?.get : undefined);
	let responses, key;

	if (op !== undefined) {
		responses = op.responses;
		key = `${method.toUpperCase()} ${template}`;
	} else {
		responses = doc["x-unmatched-requests"].responses;
		key = item ? `${method.toUpperCase()} ${template} (no such operation)` : `${method.toUpperCase()} (no such path)`;
		if (item && status === "404")
			return fail(`${label}: ${ex.method} ${ex.path}: 404 for a path that exists: expected 405`);
		if (!item && status === "405")
			return fail(`${label}: ${ex.method} ${ex.path}: 405 for a path that does not exist: expected 404`);
		if (item && status === "405") {
			const allow = (ex.headers?.allow ?? ex.headers?.Allow ?? "").split(",").map((s) => s.trim()).sort();
			// The document's conventions: every GET answers HEAD too.
			const want = METHODS.filter((m) => item[m]).map((m) => m.toUpperCase());
			if (item.get && !item.head)
				want.push("HEAD");
			want.sort();
			if (allow.join(",") !== want.join(","))
				fail(`${label}: ${ex.method} ${ex.path}: Allow is ${JSON.stringify(allow)}, expected ${JSON.stringify(want)}`);
		}
	}
	ctx.seen.add(`${ex.method.toUpperCase()} ${template ?? "?"} ${status}`);
	// jobd must refuse what the document refuses: a body it accepted (2xx)
	// must be valid against the documented request schema.
	const reqSchema = op?.requestBody?.content?.["application/json"]?.schema;
	if (reqSchema && /^2/.test(status) && ex.request_body !== undefined) {
		const v = schemaValidator(ctx.ajv, `${key}|request`, reqSchema);
		if (!v(ex.request_body))
			fail(`${label}: ${ex.method} ${ex.path}: jobd answered ${status} to a body the document refuses: ` +
			    `${fmtErrors(v.errors)}; request: ${JSON.stringify(ex.request_body).slice(0, 400)}`);
	}
	const r = responses[status] ?? responses.default;
	if (r === undefined)
		return fail(`${label}: ${ex.method} ${ex.path}: status ${status} is not documented for ${key} ` +
		    `(documented: ${Object.keys(responses).join(", ")}); body: ${JSON.stringify(ex.body ?? null).slice(0, 400)}`);
	checkResponse(ctx, `${label}: ${ex.method} ${ex.path} -> ${status}`, deref(doc, r), ex);
}

// ---- main -----------------------------------------------------------------

async function main(argv) {
	const args = [];
	let coverage = null;
	for (let i = 0; i < argv.length; i++) {
		if (argv[i] === "--coverage")
			coverage = argv[++i];
		else
			args.push(argv[i]);
	}
	if (args.length < 1) {
		console.error("usage: node validate.mjs DOC [RECORDING.jsonl ...] [--coverage FILE]");
		return 2;
	}
	const [docPath, ...recordings] = args;
	const ctx = await checkDocument(docPath);
	if (ctx === null) {
		console.log(`${failures.length} failures: the document is invalid`);
		return 1;
	}
	ctx.seen = new Set();
	let n = 0;
	for (const file of recordings) {
		const lines = readFileSync(file, "utf8").split("\n");
		lines.forEach((line, i) => {
			if (line.trim() === "")
				return;
			let ex;
			try {
				ex = JSON.parse(line);
			} catch (e) {
				return fail(`${file}:${i + 1}: not JSON: ${e.message}`);
			}
			n++;
			try {
				checkExchange(ctx, ex, `${file}:${i + 1}`);
			} catch (e) {
				fail(`${file}:${i + 1}: ${e.stack ?? e}`);
			}
		});
	}
	if (coverage !== null)
		writeFileSync(coverage, JSON.stringify([...ctx.seen].sort(), null, 1) + "\n");
	if (failures.length > 0) {
		console.log(`${failures.length} failures (${n} exchanges checked)`);
		return 1;
	}
	console.log(`ok: ${docPath} is valid OpenAPI ${ctx.doc.openapi}; ${n} exchanges match it`);
	return 0;
}

process.exitCode = await main(process.argv.slice(2));
