#!/usr/bin/env python3
"""openapi_check.py YAML ROUTES SAMPLES: checks the OpenAPI document of the API against a running
server (node/openapi_test writes ROUTES and SAMPLES):

  1. the document's schemas are valid JSON Schema 2020-12 and every $ref resolves;
  2. every route the server registered ("METHOD PATTERN" lines of ROUTES) is documented with its
     method, and the document describes no route the server lacks;
  3. every real answer in SAMPLES (JSON lines: method, route, status, content_type, body) has its
     status documented (or a `default`), its content type, and a JSON body that validates against
     the documented schema;
  4. every route has at least one validated 2xx answer (or 303, a form post's redirect).

Prints each failure; exits 1 if there is any. Needs PyYAML and jsonschema (Debian python3-yaml,
python3-jsonschema)."""

import json
import sys
import warnings

import jsonschema
import yaml

METHODS = ("get", "put", "post", "delete", "patch", "head")


def refs_of(node, path="#"):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield path, value
            else:
                yield from refs_of(value, path + "/" + str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from refs_of(value, path + "/" + str(i))


def resolve(document, ref):
    if not ref.startswith("#/"):
        raise KeyError(ref)
    node = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def validator_for(document, schema):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        resolver = jsonschema.RefResolver(base_uri="", referrer=document)
        return jsonschema.Draft202012Validator(schema, resolver=resolver)


def check_document(document, failures):
    for where, ref in refs_of(document):
        try:
            resolve(document, ref)
        except (KeyError, TypeError):
            failures.append(f"{where}: $ref {ref} does not resolve")
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as error:
            failures.append(f"components.schemas.{name}: not a valid JSON Schema: {error.message}")


def response_schema(document, operation, status, content_type):
    responses = operation.get("responses", {})
    response = responses.get(str(status), responses.get("default"))
    if response is None:
        return None, f"status {status} is not documented (and there is no default)"
    if "$ref" in response:
        response = resolve(document, response["$ref"])
    content = response.get("content", {})
    media = content_type.split(";")[0].strip()
    if media not in content:
        return None, f"status {status}: content type {media} is not documented ({', '.join(content) or 'none'})"
    return content[media].get("schema", {}), None


def main(yaml_path, routes_path, samples_path):
    with open(yaml_path, encoding="utf-8") as f:
        document = yaml.safe_load(f)
    failures = []
    check_document(document, failures)
    paths = document.get("paths", {})
    documented = {(method.upper(), path) for path, item in paths.items() for method in item if method in METHODS}
    with open(routes_path, encoding="utf-8") as f:
        served = {tuple(line.split(" ", 1)) for line in f.read().splitlines() if line.strip()}
    for method, route in sorted(served - documented):
        failures.append(f"{method} {route}: the server has this route; api/openapi.yaml does not describe it")
    for method, route in sorted(documented - served):
        failures.append(f"{method} {route}: described in api/openapi.yaml; the server has no such route")

    validated = set()
    with open(samples_path, encoding="utf-8") as f:
        samples = [json.loads(line) for line in f if line.strip()]
    for sample in samples:
        name = f"{sample['method']} {sample['route']} -> {sample['status']}"
        operation = paths.get(sample["route"], {}).get(sample["method"].lower())
        if operation is None:
            failures.append(f"{name}: no such operation in the document")
            continue
        schema, problem = response_schema(document, operation, sample["status"], sample["content_type"])
        if problem:
            failures.append(f"{name}: {problem}")
            continue
        if sample["content_type"].startswith("application/json"):
            try:
                body = json.loads(sample["body"])
            except ValueError as error:
                failures.append(f"{name}: the body is not JSON: {error}")
                continue
            errors = sorted(validator_for(document, schema).iter_errors(body), key=lambda e: list(e.absolute_path))
            for error in errors[:5]:
                where = "/".join(str(p) for p in error.absolute_path) or "(body)"
                failures.append(f"{name}: {where}: {error.message[:300]}")
            if errors:
                continue
        # A success: 2xx, or a 303 back to a page (the billing page's form posts).
        if 200 <= sample["status"] < 300 or sample["status"] == 303:
            validated.add((sample["method"], sample["route"]))
    for method, route in sorted(served - validated):
        failures.append(f"{method} {route}: no real 2xx answer of it was validated: add one to node/openapi_test.cpp")

    for failure in failures:
        print("openapi_check:", failure)
    print(f"openapi_check: {len(served)} routes, {len(samples)} answers, {len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: openapi_check.py YAML ROUTES SAMPLES")
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3]))
