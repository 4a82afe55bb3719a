package media_test

import (
	"fmt"

	"github.com/openfcs/openfcs/media"
)

// A player connection's writer goroutine: wait, take everything pending,
// encode it (here: print), stop when the subscriber is cut off.
func Example() {
	reg := media.NewRegistry(media.Config{}, nil)
	defer reg.Close()

	pub, err := reg.Publish("s1")
	if err != nil {
		panic(err)
	}
	pub.SetMetadata(&media.Packet{Kind: media.Data, Payload: []byte("onMetaData...")})
	pub.Write(&media.Packet{Kind: media.Video, Payload: []byte{0x17, 0, 0, 0, 0, 1, 0x42}}) // AVC sequence header
	pub.Write(&media.Packet{Kind: media.Audio, Payload: []byte{0xaf, 0, 0x12, 0x10}})       // AAC sequence header
	pub.Write(&media.Packet{Kind: media.Video, Time: 0, Payload: []byte{0x17, 1, 0, 0, 0}}) // keyframe
	pub.Write(&media.Packet{Kind: media.Video, Time: 40, Payload: []byte{0x27, 1, 0, 0, 0}})

	sub := reg.Subscribe("s1", media.SubscribeOptions{}) // a late joiner
	defer sub.Close()
	pub.Write(&media.Packet{Kind: media.Audio, Time: 41, Payload: []byte{0xaf, 1, 0x21}})
	pub.Close()

	batch := make([]media.Event, 0, 64) // reused across wake-ups
	for range 1 {                       // a real writer loops until the connection ends
		<-sub.Ready()
		batch = sub.Drain(batch[:0])
		for _, ev := range batch {
			if ev.Type != media.EventPacket {
				fmt.Println(ev.Type)
				continue
			}
			p := ev.Packet
			fmt.Printf("%s t=%d keyframe=%v config=%v\n", p.Kind, p.Time, p.Keyframe, p.Config)
		}
		if err := sub.Err(); err != nil {
			fmt.Println("disconnect:", err)
		}
	}
	// Output:
	// publish_notify
	// data t=0 keyframe=false config=false
	// video t=0 keyframe=false config=true
	// audio t=0 keyframe=false config=true
	// video t=0 keyframe=true config=false
	// video t=40 keyframe=false config=false
	// audio t=41 keyframe=false config=false
	// unpublish_notify
}
