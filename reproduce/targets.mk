# The paper's tables (included by the Makefile): thin wrappers of python -m reproduce.run.
#
#   make reproduce-cifar10 | table1 | table2 | table3 | celebahq | lsun | ddim-table   [PROFILE=paper|smoke]
#   make eval-official CKPT=path/netG_1200.pth [PRESET=cifar10]
#   make compare                      # reported vs reproduced: results/comparison/
#   make table3 PROFILE=cpu ARCHIVE=runs/cpu/archives/mnist-dataset.zip   # real data at reduced scale
#   make trilemma PROFILE=cpu ARCHIVE=cifar10_jpeg_subset.npz             # DDGAN vs DDPM, equal compute
#   make reproduce-smoke              # every target in the smoke profile (minutes on a CPU)
#
# PROFILE defaults to paper here (the demo's default does not apply). Optional: ARCHIVE=file you
# downloaded, NPROC=training processes, JOBS=trainings side by side on a CPU, IS_WEIGHTS=pt_inception-2015-12-05-6726825d.pth,
# VGG_WEIGHTS=vgg16 state dict, DEVICE=cuda:1.

REPRODUCE_TARGETS := table1 table2 table3 celebahq lsun ddim-table
CPU_ONLY_TARGETS  := trilemma
REPRODUCE_PROFILE := $(if $(filter command line environment environment override,$(origin PROFILE)),$(PROFILE),paper)
REPRODUCE_OPTIONS := --profile $(REPRODUCE_PROFILE) $(if $(ARCHIVE),--archive $(ARCHIVE)) \
                     $(if $(NPROC),--num-processes $(NPROC)) $(if $(JOBS),--jobs $(JOBS)) $(if $(DEVICE),--device $(DEVICE)) \
                     $(if $(IS_WEIGHTS),--is-weights $(IS_WEIGHTS)) $(if $(VGG_WEIGHTS),--vgg-weights $(VGG_WEIGHTS))
REPRODUCE := $(PY) -m reproduce.run

.PHONY: reproduce-cifar10 $(REPRODUCE_TARGETS) $(CPU_ONLY_TARGETS) eval-official compare reproduce-smoke

reproduce-cifar10: $(STAMP)
	$(REPRODUCE) cifar10 $(REPRODUCE_OPTIONS)

$(REPRODUCE_TARGETS) $(CPU_ONLY_TARGETS): $(STAMP)
	$(REPRODUCE) $@ $(REPRODUCE_OPTIONS)

eval-official: $(STAMP)
	$(REPRODUCE) eval-official $(REPRODUCE_OPTIONS) $(if $(CKPT),--checkpoint $(CKPT)) --preset $(or $(PRESET),cifar10)

compare: $(STAMP)
	$(REPRODUCE) compare --profile $(REPRODUCE_PROFILE)

reproduce-smoke: $(STAMP)
	for target in cifar10 $(REPRODUCE_TARGETS) eval-official; do \
		$(REPRODUCE) $$target --profile smoke || exit 1; done
