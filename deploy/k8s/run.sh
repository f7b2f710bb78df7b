#!/bin/sh
# Runs vllm-loadtest.yaml's Indexed Job with a common start instant, waits for every shard,
# then runs merge-job.yaml and says where the merged run folder is.
#
#   deploy/k8s/run.sh            # kubectl's current context and namespace
#   START_DELAY_S=300 KUBECTL="kubectl -n loadtest" deploy/k8s/run.sh
#
# START_DELAY_S: seconds from now to the common start, enough for every pod to be scheduled,
# pull the image and finish its preflight [180].
set -eu
cd "$(dirname "$0")"
KUBECTL=${KUBECTL:-kubectl}
START_DELAY_S=${START_DELAY_S:-180}

start_at=$(date -u -d "+${START_DELAY_S} seconds" +%Y-%m-%dT%H:%M:%SZ)
# A Job's pod template cannot change: a previous run's Jobs go first (their volume stays).
$KUBECTL delete job vllm-loadtest vllm-loadtest-merge --ignore-not-found
sed "s|^  START_AT: .*|  START_AT: \"$start_at\"|" vllm-loadtest.yaml | $KUBECTL apply -f -
echo "vllm-loadtest: shards start at $start_at"

# Wait until every shard has finished, successfully or not (a shard exits 1 when a --fail-on
# threshold fails; it still wrote its folder, and the merge shows why).
wait_for() {
    while :; do
        status=$($KUBECTL get job "$1" -o jsonpath='{.status.succeeded}/{.status.failed}/{.spec.completions}')
        succeeded=${status%%/*}; rest=${status#*/}; failed=${rest%%/*}; total=${rest#*/}
        if [ $(( ${succeeded:-0} + ${failed:-0} )) -ge "$total" ]; then
            echo "$1: ${succeeded:-0} succeeded, ${failed:-0} failed"
            return 0
        fi
        sleep 10
    done
}
wait_for vllm-loadtest
$KUBECTL apply -f merge-job.yaml
wait_for vllm-loadtest-merge
$KUBECTL logs job/vllm-loadtest-merge
run=$($KUBECTL get configmap vllm-loadtest-flags -o jsonpath='{.data.RUN}')
echo "merged run folder: /results/$run/merged on volume vllm-loadtest-results"
echo "copy it out from any pod that mounts the volume, e.g. kubectl cp POD:/results/$run/merged ./merged"
