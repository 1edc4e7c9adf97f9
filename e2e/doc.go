// Package e2e runs Tollgate's whole story as processes: tollgate-server
// with its embedded MQTT broker, tollgatectl, one tollgate-agent per device
// or gateway and firmware-sim driving the fleet, built once into a
// temporary directory and run on free loopback ports — also with Mosquitto
// as the agents' upstream broker and the gateway's local broker. It asserts
// what `make run` (scripts/run-demo.sh) tells. TestScale (TOLLGATE_SCALE=1)
// drives 10,000 devices through 100 gateway agents.
package e2e
