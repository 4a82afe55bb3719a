// The communication components' custom elements, all at once:
//
//   <script type="module" src="/components/index.js"></script>
//
// (docs/components.md#the-browser-elements). Each module can also be
// imported alone; importing one defines its element.

export { FCSConnect } from './connect.js';
export { FCSConnectionLight } from './connection-light.js';
export { FCSPeopleList } from './people-list.js';
export { FCSChat } from './chat.js';
export { FCSWhiteBoard } from './whiteboard.js';
export { FCSVideoConference } from './video-conference.js';
