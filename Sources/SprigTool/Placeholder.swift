import SprigABI
