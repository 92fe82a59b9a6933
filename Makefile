.PHONY: run test setup

run:  ## set up (first time) and start the whole site on the embedded default
	bin/run

test:  ## run every test, embedded and against PostgreSQL + Redis
	bin/test

setup:
	bin/setup
