# Sprig — make targets. Everything goes through the `sprig` CLI (Sources/sprig); `make help` lists them.
#   make run [SYSTEM=hello] [KVM=1] [VARIANT=debug]   build and boot a system in QEMU (TCG by default)
#   make test                                         swift test: unit, model and boot tests (TCG)
SWIFT   ?= swift
SPRIG   := .build/debug/sprig
SYSTEM  ?= signal
VARIANT ?= release
KVM     ?= 0
RUNFLAGS := --system $(SYSTEM) --variant $(VARIANT) $(if $(filter 1,$(KVM)),--kvm,)

.PHONY: help all build run run-gdb test hygiene systems validate generate qemu peer-tools cli clean bench check fuzz replay fuzz-boot iso iso-tools trace mutate

help:
	@echo "make run      build everything and boot SYSTEM (default $(SYSTEM)) in QEMU, console on this terminal"
	@echo "              options: SYSTEM=<name> (make systems), KVM=1 (ask for KVM, falls back to TCG), VARIANT=debug"
	@echo "make run-gdb  boot SYSTEM (debug variant, DWARF) stopped at the first instruction; gdb on this terminal with every partition's symbols and the sprig-* helpers (docs/debugging.md)"
	@echo "              options: WAIT=1 (no gdb: wait for yours on PORT, default 1234), PORT=n"
	@echo "make test     swift test: SprigCore and model tests, then boot tests under QEMU TCG"
	@echo "make build    cross-build the kernel and partitions (sprig build); prints image size and kernel lines"
	@echo "make hygiene  check the kernel ELF: no FPU/SIMD instruction, no undefined symbol, no red zone, no stack protector, no call on the yield fastpath, FNINIT before FXRSTOR, VERW before iretq"
	@echo "make bench    guest-instruction counts of yield, IRQ delivery and each memory service (QEMU -icount); JSON in .build/sprig/release/bench.json"
	@echo "              with Debian's Linux side by side (sprig bench --peer linux; fetched once into .build/peer); PEER= leaves it out"
	@echo "make systems  list the bootable systems"
	@echo "make validate run every validator on every system description (sprig validate)"
	@echo "make generate write the files derived from the service table (sprig_abi.h, SprigUser/Generated.swift)"
	@echo "make check    sprig check: the exhaustive schedule (focused menus depth 6/6/4, every start tree, full menu depth 5)"
	@echo "              options: DEPTH=n (one search), SEED=s (random walk of STEPS steps, default 100000), CHECKFLAGS=... (sprig check --help)"
	@echo "make mutate   sprig mutate: generated mutants of SprigCore (swift-syntax), the model's checks on each, the score and every survivor's diff"
	@echo "              options: EVERY=k (every k-th mutant only), JOBS=n, MUTATEFLAGS=... (sprig mutate --help)"
	@echo "make fuzz     sprig fuzz: libFuzzer on the kernel logic in the model for SECONDS (default 60); MUTANT=<name> fuzzes a broken copy"
	@echo "make replay  sprig replay: boot SYSTEM on the trace kernel, replay its trace in the model, report the first divergence"
	@echo "              options: FILE=<trace> replays a saved trace instead (sprig replay --help)"
	@echo "make fuzz-boot  the fuzz system: a random campaign on the booted kernel; SEED=s (default 1), CALLS=n (default 2000)"
	@echo "make iso     sprig iso: a GRUB image of SYSTEM (BIOS and UEFI) in .build/sprig/VARIANT/SYSTEM.iso, for a USB stick (README)"
	@echo "make trace   sprig trace: boot SYSTEM on the trace kernel; its timeline as Perfetto JSON and SVG in .build/sprig/trace/ (docs/trace.md)"
	@echo "make clean    remove build products"

all: build

# QEMU is the only tool not in the Swift toolchain. Installed with apt-get when missing and root.
qemu:
	@if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing qemu-system-x86 with apt-get (waits up to 10 minutes for another apt's lock)"; \
	    apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq qemu-system-x86 >/dev/null; \
	  else \
	    echo "make: qemu-system-x86_64 is missing. Install it: sudo apt-get install qemu-system-x86"; exit 1; \
	  fi; \
	fi

# The GRUB image (`make iso`) needs grub-mkrescue for both platforms, xorriso and mtools; its boot
# tests need OVMF (UEFI). Installed with apt-get when missing and root, waiting for a held dpkg lock.
ISO_PACKAGES := grub-common grub-pc-bin grub-efi-amd64-bin xorriso mtools ovmf
iso-tools:
	@if ! command -v grub-mkrescue >/dev/null 2>&1 || ! command -v xorriso >/dev/null 2>&1 || ! command -v mformat >/dev/null 2>&1 \
	    || [ ! -d /usr/lib/grub/i386-pc ] || [ ! -d /usr/lib/grub/x86_64-efi ] \
	    || ! { [ -e /usr/share/ovmf/OVMF.fd ] || [ -e /usr/share/OVMF/OVMF_CODE_4M.fd ] || [ -e /usr/share/OVMF/OVMF_CODE.fd ]; }; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing $(ISO_PACKAGES) with apt-get"; \
	    apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
	      install -y -qq --no-install-recommends $(ISO_PACKAGES) >/dev/null; \
	  else \
	    echo "make: the GRUB image and its tests need: sudo apt-get install $(ISO_PACKAGES)"; exit 1; \
	  fi; \
	fi

# The Linux peer of `sprig bench --peer linux` has its init built with gcc -static (libc6-dev's
# libc.a). Installed with apt-get when missing and root, waiting for a held dpkg lock.
PEER_PACKAGES := gcc libc6-dev
peer-tools:
	@if ! command -v gcc >/dev/null 2>&1 || [ ! -e "$$(gcc -print-file-name=libc.a 2>/dev/null)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing $(PEER_PACKAGES) with apt-get (waits up to 10 minutes for another apt's lock)"; \
	    apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $(PEER_PACKAGES) >/dev/null; \
	  else \
	    echo "make: the Linux peer's init needs gcc and a static libc. Install them: sudo apt-get install $(PEER_PACKAGES)"; exit 1; \
	  fi; \
	fi

cli:
	@echo "make: swift build --product sprig (the CLI; about a minute after a change, a second otherwise)"
	@$(SWIFT) build --product sprig 2>&1 | grep -v "^\[" | grep -v "^Building\|^Build complete\|^Compiling\|^Write\|^Planning" || true
	@test -x $(SPRIG) || { echo "make: could not build the sprig CLI (run: swift build --product sprig)"; exit 1; }

build: cli
	@$(SPRIG) build --variant $(VARIANT)

run: cli qemu
	@$(SPRIG) run $(RUNFLAGS)

# gdb in the foreground on this terminal, the debug variant (DWARF) unless VARIANT is given;
# WAIT=1 starts no gdb and waits for yours on PORT (default 1234).
PORT ?= 1234
run-gdb: cli qemu
	@$(SPRIG) run-gdb --system $(SYSTEM) --variant $(if $(filter command line environment,$(origin VARIANT)),$(VARIANT),debug) --port $(PORT) $(if $(filter 1,$(WAIT)),--wait-only,)

test: qemu iso-tools peer-tools
	$(SWIFT) test

hygiene: cli
	@$(SPRIG) hygiene --variant $(VARIANT)

systems: cli
	@$(SPRIG) systems

generate: cli
	@$(SPRIG) generate

# PEER=linux (the default) adds Debian's Linux under the same QEMU settings; PEER= leaves it out.
PEER ?= linux
bench: cli qemu $(if $(PEER),peer-tools,)
	@$(SPRIG) bench --variant $(VARIANT) $(if $(PEER),--peer $(PEER),)

clean:
	rm -rf .build/sprig

# Exhaustive exploration in the model (docs/check.md). Built optimized: the explorer is CPU-bound.
# Without DEPTH or SEED: the schedule CHECKRUNS (focused menus at depth 6, 6 and 4, every generated
# start tree, the full menu at depth 5 at a bounded size; docs/check.md has their sizes and
# times); DEPTH=n: one search; SEED=s: one walk. The search runs on every core (--threads).
DEPTH ?=
STEPS ?= 100000
SEED  ?=
CHECKFLAGS ?=
CHECKRUNS ?= "--menu yields --vidt-slots 1 --depth 6" \
	"--menu yields,vidt-writes --vidt-slots 1 --depth 6" \
	"--menu yields,vidt-writes,table-change --vidt-slots 1 --depth 4" \
	"--shapes 6 --depth 2" \
	"--depth 5 --vidt-slots 1 --partitions 3"
check:
	@echo "make: building the optimized sprig for the explorer (swift build -c release; about 2 minutes the first time)"
	@$(SWIFT) build -c release --product sprig 2>&1 | grep -E "error|warning: unre|Build complete" | sed -u "s/^/  /" || true
	@if [ -n "$(SEED)" ]; then .build/release/sprig check --random $(STEPS) --seed $(SEED) $(CHECKFLAGS); \
	elif [ -n "$(DEPTH)" ]; then .build/release/sprig check --depth $(DEPTH) $(CHECKFLAGS); \
	else for run in $(CHECKRUNS); do echo "make check: sprig check $$run $(CHECKFLAGS)"; \
	  .build/release/sprig check $$run $(CHECKFLAGS) || exit $$?; done; fi

# Generated mutants and the mutation score (docs/mutate.md). EVERY=k runs every k-th mutant.
EVERY ?= 1
MUTATEFLAGS ?=
mutate: cli
	@$(SPRIG) mutate --every $(EVERY) $(if $(JOBS),--jobs $(JOBS),) $(MUTATEFLAGS)

# Coverage-guided fuzzing (docs/fuzz.md). SECONDS bounds the run; MUTANT and JOBS are optional.
SECONDS ?= 60
fuzz: cli
	@$(SPRIG) fuzz --seconds $(SECONDS) $(if $(MUTANT),--mutant $(MUTANT),) $(if $(JOBS),--jobs $(JOBS),)

# Differential replay (docs/replay.md): the trace kernel's record of every kernel entry, run again
# in the model. FILE replays a saved trace; otherwise SYSTEM is booted and traced first.
FILE ?=
replay: cli qemu
	@$(SPRIG) replay $(if $(FILE),$(FILE),--system $(SYSTEM))
# The fuzzer partition on the booted kernel (docs/fuzz.md, "The fuzzer partition").
CALLS ?= 2000
fuzz-boot: cli qemu
	@$(SPRIG) run --system fuzz --variant $(VARIANT) --seed $(or $(SEED),1) --calls $(CALLS)

# A GRUB image of SYSTEM for a real PC, BIOS or UEFI (README, "Booting a real PC").
iso: cli iso-tools
	@$(SPRIG) iso --system $(SYSTEM) --variant $(VARIANT)

# The timeline of every switch (docs/trace.md): Perfetto/Chrome JSON and an SVG picture.
trace: cli qemu
	@$(SPRIG) trace --system $(SYSTEM) --perfetto .build/sprig/trace/$(SYSTEM).json --svg .build/sprig/trace/$(SYSTEM).svg
validate: cli
	@$(SPRIG) validate

