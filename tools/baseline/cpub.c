/* Mosquitto's own C client library (libmosquitto, the library mosquitto_pub
 * is built on) publishing COUNT frames of SIZE bytes round-robin to TOPICS
 * topics, QoS 1, retained: the broker's ceiling for baseline.py publish.
 * One connection, one thread, INFLIGHT unacknowledged publishes.
 *
 *   gcc -O2 -o /tmp/cpub tools/baseline/cpub.c -lmosquitto   (apt: libmosquitto-dev)
 *   cpub PORT ROOT COUNT [SIZE=36864] [TOPICS=1000] [INFLIGHT=200]
 */
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int acked = 0;

static void on_publish(struct mosquitto *m, void *u, int mid) {
    (void)m; (void)u; (void)mid;
    acked++;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: cpub PORT ROOT COUNT [SIZE] [TOPICS] [INFLIGHT]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    const char *root = argv[2];
    int count = atoi(argv[3]);
    int size = argc > 4 ? atoi(argv[4]) : 36864;
    int topics = argc > 5 ? atoi(argv[5]) : 1000;
    int inflight = argc > 6 ? atoi(argv[6]) : 200;
    char *payload = malloc(size);
    for (int i = 0; i < size; i++) payload[i] = (char)(i * 31);
    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new(NULL, 1, NULL);
    mosquitto_publish_callback_set(m, on_publish);
    mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, inflight);
    mosquitto_max_inflight_messages_set(m, inflight);
    if (mosquitto_connect(m, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "cpub: cannot connect\n");
        return 1;
    }
    char topic[256];
    int sent = 0;
    while (acked < count) {
        /* Queue while the window has room; the library holds the rest. */
        while (sent < count && sent - acked < inflight) {
            snprintf(topic, sizeof topic, "%s/panels/t%04d/frame", root, sent % topics);
            if (mosquitto_publish(m, NULL, topic, size, payload, 1, true) != MOSQ_ERR_SUCCESS) {
                fprintf(stderr, "cpub: publish failed\n");
                return 1;
            }
            sent++;
        }
        int rc = mosquitto_loop(m, 100, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "cpub: loop error %d\n", rc);
            return 1;
        }
    }
    mosquitto_disconnect(m);
    mosquitto_loop(m, 100, 1);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return 0;
}
