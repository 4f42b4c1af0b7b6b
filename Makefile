# swarmkit-ts: `make demo` and `make test` each set up a fresh Debian bookworm machine first.
.PHONY: setup build test lint demo bench cluster cluster-down clean

setup:
	bash scripts/setup.sh

build:
	npm run build

lint:
	npx biome check .

test: setup
	npx tsc -p . --noEmit false
	node scripts/bundle-cli.mjs
	npx biome check .
	node scripts/run-tests.mjs

demo: setup
	bash scripts/demo.sh

bench: setup
	npm run bench

# A cluster in a box: 1 manager + WORKERS workers, each a real swarmd in its own netns, joined
# unless JOIN=0 (test/helpers/README.md).
WORKERS ?= 2
cluster: setup
	node dist/test/helpers/cluster-cli.js up --workers $(WORKERS) $(if $(filter 0,$(JOIN)),--no-join)

cluster-down: setup
	node dist/test/helpers/cluster-cli.js down

clean:
	rm -rf dist
