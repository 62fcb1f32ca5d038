#!/bin/bash
# Train lit_nn with torchrun, for clusters without SLURM. Run it on every node, with the same
# MASTER_ADDR and JOB_ID everywhere:
#   NNODES=2 GPUS_PER_NODE=8 MASTER_ADDR=10.0.0.1 JOB_ID=exp42 docker/torchrun/train.sh -c digits
# Arguments go to `lit-nn fit`; the run folder is runs/<experiment>/torchrun-<JOB_ID>/.
# Environment: NNODES, GPUS_PER_NODE (processes per node), MASTER_ADDR, MASTER_PORT, JOB_ID,
# ACCELERATOR (auto, gpu or cpu), TORCHRUN (the torchrun command).
set -euo pipefail

NNODES="${NNODES:-1}"
GPUS_PER_NODE="${GPUS_PER_NODE:-1}"
MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"
MASTER_PORT="${MASTER_PORT:-29500}"
ACCELERATOR="${ACCELERATOR:-auto}"
TORCHRUN="${TORCHRUN:-torchrun}"
if [[ -z "${JOB_ID:-}" ]]; then
    if (( NNODES > 1 )); then
        echo "train.sh: set JOB_ID to the same value on every node (it names the shared run folder)" >&2
        exit 2
    fi
    JOB_ID="single-$(date +%Y%m%d-%H%M%S)"
fi

# shellcheck disable=SC2086  # TORCHRUN may be several words ("python -m torch.distributed.run")
exec $TORCHRUN --nnodes "$NNODES" --nproc-per-node "$GPUS_PER_NODE" \
    --rdzv-backend c10d --rdzv-endpoint "$MASTER_ADDR:$MASTER_PORT" --rdzv-id "$JOB_ID" \
    -m lit_nn fit --trainer.strategy ddp --trainer.accelerator "$ACCELERATOR" \
    --trainer.num_nodes "$NNODES" --trainer.devices "$GPUS_PER_NODE" "$@"
