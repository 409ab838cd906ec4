# l2l: Learning to learn by gradient descent by gradient descent, as an HDF5 pipeline.
#
#   make          every stage the project has so far (today: the data)
#   make test     the test suite
#   make data     fetch, verify and store MNIST in data/mnist.h5 (MNIST_MIRROR=folder-or-URL to
#                 use a mirror)
#   make deps     install the Debian packages the build needs (run by every other target)
#
# Every target depends on `deps`, so a fresh Debian machine with Swift needs no other step.

SHELL := /bin/bash
SWIFT ?= swift
RELEASE := .build/release

# Debian packages: HDF5 (serial, 1.10) and its tools, zlib, pkg-config, and the BLAS (BLIS).
DEBIAN_PACKAGES := libhdf5-dev hdf5-tools zlib1g-dev pkg-config libblis-dev

.PHONY: all deps build data test clean help

all: data

help:
	@sed -n '3,9p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@missing=""; \
	for package in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" -eq 0 ]; then \
	    echo "make deps: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "make deps: missing Debian packages:$$missing"; \
	    echo "install them with:  sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi

build: deps
	$(SWIFT) build -c release

data: build
	$(RELEASE)/l2l-fetch --output data/mnist.h5

test: deps
	$(SWIFT) test

clean:
	rm -rf .build
