# bench.mk -- `make bench`: berth against docker-registry 2.8 and nginx's
# ceilings on loopback (bench/run.sh), then PostgreSQL against SQLite and two
# hosts against one (bench/pg.sh; README.md, "Benchmarks").  Not part of
# `make test`.  BENCH_QUICK=1 for a short run.
APT_BENCH := nginx curl openssl wrk apache2-utils gnuplot-nox hyperfine \
             docker-registry python3 $(APT_S3) postgresql

.PHONY: bench deps-bench

deps-bench:
	@sh tests/need-packages.sh $(APT_BUILD) $(APT_BENCH)

bench: deps-bench
	@$(MAKE) --no-print-directory all
	@BERTH=$(BUILD)/berth bench/run.sh
	@BERTH=$(BUILD)/berth bench/pg.sh
